import { SingleBar, Presets } from 'cli-progress';
import { obtainBase } from '../base/obtain.ts';
import type { Cluster } from '../config/resolve.ts';
import { probeBase } from '../image/probe.ts';
import { chooseBase } from '../plan/base.ts';
import { planCluster, type PlanInputs } from '../plan/index.ts';
import { selectNodes } from '../plan/targets.ts';
import { expiredTokens, secretsFor } from '../secrets/ensure.ts';
import { readBlobs } from '../base/blobs.ts';
import { buildNode, type Artifact, type BuildOptions } from './build.ts';
import { discardOnSignal, PendingOutputs } from './image/outputs.ts';

export interface BuildAllOptions extends Omit<BuildOptions, 'onStep'> {
  readonly inputs: PlanInputs;
  readonly cacheDir: string;
  /** A local file or URL replacing every target's profile base. */
  readonly base?: string | undefined;
  readonly allowUnverified: boolean;
  /** Write the final partition table for a disk of this size (the image file then has that size, sparse). */
  readonly diskBytes: number | null;
  /** Say each step ("cp01: assemble"); a progress bar on stderr when it is a terminal. */
  readonly say?: ((text: string) => void) | undefined;
  readonly progressBar: boolean;
}

/**
 * Build the targets' images, one node after the other: read (obtain and probe the base, read the
 * blobs), plan (the pure plan, now with the image's table), apply. Each node's outputs appear
 * under their final names together once all are complete; Ctrl-C or SIGTERM removes what is unfinished.
 */
export async function buildAll(cluster: Cluster, targets: readonly string[], opts: BuildAllOptions): Promise<Artifact[]> {
  const outputs = new PendingOutputs();
  const stopListening = discardOnSignal(outputs);
  let bar: SingleBar | undefined;
  const say = (text: string): void => { bar?.stop(); bar = undefined; opts.say?.(text); };
  const artifacts: Artifact[] = [];
  try {
    await outputs.sweep(opts.out);
    const secrets = await secretsFor(cluster, { create: true, say: opts.say });
    if (secrets) for (const w of expiredTokens(secrets, selectNodes(cluster, targets), Date.now())) opts.say?.(`warning: ${w}\n`);
    for (const node of selectNodes(cluster, targets)) {
      const host = node.config.hostname;
      say(`${host}: base\n`);
      const base = await obtainBase(chooseBase(node, opts.base), {
        cacheDir: opts.cacheDir, allowUnverified: opts.allowUnverified, templates: opts.inputs.templates, epoch: opts.epoch,
        onStep: (s) => say(`${host}: ${s}\n`),
        onProgress: (what, done, total) => {
          if (!opts.progressBar) return;
          if (!bar) { bar = new SingleBar({ format: `${what.split('/').at(-1)} {bar} {percentage}% {value}/{total} bytes`, stream: process.stderr }, Presets.shades_classic); bar.start(total ?? 0, 0); }
          bar.update(done);
        },
      });
      const blobs = await readBlobs(cluster, node);
      const planned = await planCluster(cluster, [host], {
        ...opts.inputs, diskBytes: opts.diskBytes, secrets,
        bases: new Map([[host, { ...base, path: base.raw, layout: probeBase(base.raw), blobBytes: blobs.map((b) => b.data.length) }]]),
      });
      artifacts.push(await buildNode(cluster, planned.plan.nodes[0]!, planned.images.get(host)!, planned.seeds.get(host)!, base, blobs,
        { ...opts, secrets, onStep: (n, s) => say(`${n}: ${s}\n`) }, outputs));
      await outputs.commit();
    }
    await outputs.close();
  } catch (e) {
    await outputs.discard();
    throw e;
  } finally {
    bar?.stop();
    stopListening();
  }
  return artifacts;
}
