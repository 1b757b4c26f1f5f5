import { findingsError } from '../../check/index.ts';
import { imgforgeError } from '../../errors/error.ts';
import { defaultCacheDir } from '../../base/cache.ts';
import { buildAll } from '../../execute/build-all.ts';
import { parseBytes, formatBytes } from '../../util/size.ts';
import { json, type Io } from '../output.ts';
import { loadAndCheck, planInputs, sourceDateEpoch, VERSION, type GlobalOptions } from '../context.ts';

export interface BuildFlags {
  readonly out: string;
  readonly base?: string;
  readonly diskSize?: string;
  readonly compress?: 'zstd' | 'xz';
  readonly allowUnverified: boolean;
  readonly cacheDir?: string;
  readonly force: boolean;
}

/** imgforge build [targets...]: one flashable image per node, with bmap, checksum and manifest. */
export async function buildCommand(targets: string[], opts: GlobalOptions & BuildFlags, io: Io): Promise<number> {
  const diskSize = opts.diskSize === undefined ? undefined : parseBytes(opts.diskSize);
  if (opts.diskSize !== undefined && diskSize === undefined) throw imgforgeError('BadFlag', { detail: `--disk-size takes a size such as 1TB or 64GiB, not "${opts.diskSize}"` });
  const { cluster, report } = await loadAndCheck(opts);
  if (!report.ok && !opts.force) throw findingsError(report);
  const artifacts = await buildAll(cluster, targets, {
    out: opts.out, cacheDir: opts.cacheDir ?? defaultCacheDir(), base: opts.base, allowUnverified: opts.allowUnverified,
    compress: opts.compress, epoch: sourceDateEpoch(), version: VERSION, diskBytes: diskSize ?? null, inputs: await planInputs(),
    say: opts.json ? undefined : io.err, progressBar: !opts.json && process.stderr.isTTY === true,
  });
  if (opts.json) io.out(json({ artifacts }));
  else for (const a of artifacts) io.out(`${a.node}: ${a.image} (${formatBytes(a.sizeBytes)}, ${formatBytes(a.mappedBytes)} mapped) sha256 ${a.sha256}\n`);
  return 0;
}
