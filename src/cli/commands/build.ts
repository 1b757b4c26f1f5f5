import { SingleBar, Presets } from 'cli-progress';
import { imgforgeError } from '../../errors/error.ts';
import { defaultCacheDir } from '../../base/fetch.ts';
import { buildNode, type Artifact } from '../../execute/build.ts';
import { PendingOutputs } from '../../execute/image/outputs.ts';
import { parseBytes, formatBytes } from '../../util/size.ts';
import { json, type Io } from '../output.ts';
import { loadTemplates } from '../../render/templates.ts';
import { loadAndCheck, loadPlan, VERSION, type GlobalOptions } from '../context.ts';

export interface BuildFlags {
  readonly out: string;
  readonly base?: string;
  readonly diskSize?: string;
  readonly compress?: string;
  readonly allowUnverified: boolean;
  readonly cacheDir?: string;
  readonly force: boolean;
}

/** FAT's epoch (1980-01-01), used when SOURCE_DATE_EPOCH is unset: builds stay reproducible either way. */
const DEFAULT_EPOCH = 315532800;

/** imgforge build [targets...]: one flashable image per node, with bmap, checksum and manifest. */
export async function buildCommand(targets: string[], opts: GlobalOptions & BuildFlags, io: Io): Promise<number> {
  if (opts.compress !== undefined && opts.compress !== 'zstd' && opts.compress !== 'xz') {
    throw imgforgeError('BadFlag', { detail: `--compress takes zstd or xz, not "${opts.compress}"` });
  }
  const diskSize = opts.diskSize === undefined ? undefined : parseBytes(opts.diskSize);
  if (opts.diskSize !== undefined && diskSize === undefined) throw imgforgeError('BadFlag', { detail: `--disk-size takes a size such as 1TB or 64GiB, not "${opts.diskSize}"` });
  const epochText = process.env['SOURCE_DATE_EPOCH'];
  const epoch = epochText && /^\d+$/.test(epochText) ? Number(epochText) : DEFAULT_EPOCH;

  const { cluster: loaded, report } = await loadAndCheck(opts);
  if (!report.ok && !opts.force) throw imgforgeError('Findings', { errors: report.errors });
  const cluster = loaded;
  const { plan, seeds } = await loadPlan(cluster, targets);
  const templates = await loadTemplates();

  const outputs = new PendingOutputs();
  const onSignal = (signal: NodeJS.Signals): void => {
    outputs.discardSync();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = !opts.json && process.stderr.isTTY === true;
  let bar: SingleBar | undefined;
  const artifacts: Artifact[] = [];
  try {
    for (const nodePlan of plan.nodes) {
      const node = cluster.nodes.find((n) => n.config.hostname === nodePlan.hostname)!;
      const artifact = await buildNode(cluster, node, nodePlan, seeds.get(nodePlan.hostname)!, {
        out: opts.out, cacheDir: opts.cacheDir ?? defaultCacheDir(), base: opts.base, allowUnverified: opts.allowUnverified,
        compress: opts.compress as 'zstd' | 'xz' | undefined, epoch, version: VERSION, diskBytes: diskSize ?? null, templates,
        onStep: (n, s) => { bar?.stop(); bar = undefined; if (!opts.json) io.err(`${n}: ${s}\n`); },
        onProgress: (what, done, total) => {
          if (!tty) return;
          if (!bar) { bar = new SingleBar({ format: `${what.split('/').at(-1)} {bar} {percentage}% {value}/{total} bytes`, stream: process.stderr }, Presets.shades_classic); bar.start(total ?? 0, 0); }
          bar.update(done);
        },
      }, outputs);
      await outputs.commit();
      artifacts.push(artifact);
      if (!opts.json) io.out(`${artifact.node}: ${artifact.image} (${formatBytes(artifact.sizeBytes)}, ${formatBytes(artifact.mappedBytes)} mapped) sha256 ${artifact.sha256}\n`);
    }
  } catch (e) {
    await outputs.discard();
    throw e;
  } finally {
    bar?.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  if (opts.json) io.out(json({ artifacts }));
  return 0;
}
