import { SingleBar, Presets } from 'cli-progress';
import type { Cluster } from '../config/resolve.ts';
import type { PlanResult } from '../plan/index.ts';
import type { TemplateSet } from '../render/templates.ts';
import { buildNode, type Artifact, type BuildOptions } from './build.ts';
import { PendingOutputs } from './image/outputs.ts';

export interface BuildAllOptions extends Omit<BuildOptions, 'onStep' | 'onProgress' | 'templates'> {
  readonly templates: TemplateSet;
  /** Say each step ("cp01: assemble"); a progress bar on stderr when it is a terminal. */
  readonly say?: ((text: string) => void) | undefined;
  readonly progressBar: boolean;
}

/**
 * Build every node of the plan, one after the other; each node's outputs appear under their
 * final names together once all are complete. Ctrl-C or SIGTERM removes what is unfinished.
 */
export async function buildAll(cluster: Cluster, planned: PlanResult, opts: BuildAllOptions): Promise<Artifact[]> {
  const outputs = new PendingOutputs();
  const onSignal = (signal: NodeJS.Signals): void => {
    outputs.discardSync();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let bar: SingleBar | undefined;
  const artifacts: Artifact[] = [];
  try {
    await outputs.sweep(opts.out);
    for (const nodePlan of planned.plan.nodes) {
      const node = cluster.nodes.find((n) => n.config.hostname === nodePlan.hostname)!;
      artifacts.push(await buildNode(cluster, node, nodePlan, planned.seeds.get(nodePlan.hostname)!, {
        ...opts,
        onStep: (n, s) => { bar?.stop(); bar = undefined; opts.say?.(`${n}: ${s}\n`); },
        onProgress: (what, done, total) => {
          if (!opts.progressBar) return;
          if (!bar) { bar = new SingleBar({ format: `${what.split('/').at(-1)} {bar} {percentage}% {value}/{total} bytes`, stream: process.stderr }, Presets.shades_classic); bar.start(total ?? 0, 0); }
          bar.update(done);
        },
      }, outputs));
      await outputs.commit();
    }
  } catch (e) {
    await outputs.discard();
    throw e;
  } finally {
    bar?.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  return artifacts;
}
