import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { findingsError } from '../../check/index.ts';
import { imgforgeError } from '../../errors/error.ts';
import { defaultCacheDir } from '../../base/cache.ts';
import { buildAll } from '../../execute/build-all.ts';
import { buildGeneric } from '../../execute/build-generic.ts';
import { seedUrlProblem, type SeedMatch } from '../../plan/generic.ts';
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
  /** A board: build its generic image instead of nodes' images. */
  readonly generic?: string;
  readonly seedUrl?: string;
  readonly match?: SeedMatch;
  readonly seedCa?: string;
}

/** One PEM certificate from a file, as the image will carry it, or a bad-flag error naming the file. */
async function readCertificate(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw imgforgeError('BadFlag', { detail: `--seed-ca ${path}: ${(e as Error).message}` });
  }
  const pem = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(text)?.[0];
  try {
    if (!pem) throw new Error('no PEM certificate in it');
    new X509Certificate(pem);
  } catch (e) {
    throw imgforgeError('BadFlag', { detail: `--seed-ca ${path}: not a certificate (${(e as Error).message})` });
  }
  return `${pem}\n`;
}

/** imgforge build [targets...]: one flashable image per node, with bmap, checksum and manifest. */
export async function buildCommand(targets: string[], opts: GlobalOptions & BuildFlags, io: Io): Promise<number> {
  const diskSize = opts.diskSize === undefined ? undefined : parseBytes(opts.diskSize);
  if (opts.diskSize !== undefined && diskSize === undefined) throw imgforgeError('BadFlag', { detail: `--disk-size takes a size such as 1TB or 64GiB, not "${opts.diskSize}"` });
  if (opts.generic !== undefined) {
    if (targets.length > 0) throw imgforgeError('BadFlag', { detail: `--generic builds one board's image; it takes no targets (${targets.join(' ')})` });
    if (diskSize !== undefined) throw imgforgeError('BadFlag', { detail: '--generic images are compact: each drive gets its layout at first boot or from imgforge flash, so --disk-size does not apply' });
    if (opts.seedUrl === undefined) throw imgforgeError('BadFlag', { detail: '--generic needs --seed-url: where the seed server is, as nodes reach it (https://192.168.1.5:8443/)' });
    const problem = seedUrlProblem(opts.seedUrl);
    if (problem) throw imgforgeError('BadFlag', { detail: `--seed-url: ${problem}` });
  } else if (opts.seedUrl !== undefined || opts.match !== undefined || opts.seedCa !== undefined) {
    throw imgforgeError('BadFlag', { detail: '--seed-url, --match and --seed-ca are for --generic images' });
  }
  const seedCa = opts.seedCa === undefined ? null : await readCertificate(opts.seedCa);
  const { cluster, report } = await loadAndCheck(opts);
  if (!report.ok && !opts.force) throw findingsError(report);
  const common = {
    out: opts.out, cacheDir: opts.cacheDir ?? defaultCacheDir(), base: opts.base, allowUnverified: opts.allowUnverified,
    compress: opts.compress, epoch: sourceDateEpoch(), version: VERSION, diskBytes: diskSize ?? null, inputs: await planInputs(),
    say: opts.json ? undefined : io.err, progressBar: !opts.json && process.stderr.isTTY === true,
  };
  const artifacts = opts.generic !== undefined
    ? [await buildGeneric(cluster, { board: opts.generic, seedUrl: opts.seedUrl!, match: opts.match ?? 'mac', seedCa }, common)]
    : await buildAll(cluster, targets, common);
  if (opts.json) io.out(json({ artifacts }));
  else for (const a of artifacts) io.out(`${a.node}: ${a.image} (${formatBytes(a.sizeBytes)}, ${formatBytes(a.mappedBytes)} mapped) sha256 ${a.sha256}\n`);
  return 0;
}
