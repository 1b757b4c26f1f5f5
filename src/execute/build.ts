import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { imgforgeError } from '../errors/error.ts';
import { fetchBase, type Base } from '../base/fetch.ts';
import { sha256File } from '../base/checksum.ts';
import { toRawImage } from '../base/decompress.ts';
import { probeBase } from '../image/probe.ts';
import { planImage, type ImagePlan } from '../plan/image.ts';
import type { NodePlan } from '../plan/index.ts';
import type { SeedFile } from '../plan/seed.ts';
import { e2fsckReadOnly } from '../tools/ext4.ts';
import { fsckFatAt, sgdiskVerify } from '../tools/verify.ts';
import { assembleImage, mustMap } from './image/assemble.ts';
import { digestImage } from './image/digest.ts';
import { compress, ensureSpace, PendingOutputs } from './image/outputs.ts';
import { stat } from 'node:fs/promises';
import { bootstrapBase } from '../base/bootstrap.ts';
import type { TemplateSet } from '../render/templates.ts';

export interface BuildOptions {
  readonly out: string;
  readonly cacheDir: string;
  /** A local file or URL replacing every target's profile base. */
  readonly base?: string | undefined;
  readonly allowUnverified: boolean;
  readonly compress?: 'zstd' | 'xz' | undefined;
  /** Write the final partition table for a disk of this size (the image file then has that size, sparse). */
  readonly diskBytes: number | null;
  readonly epoch: number;
  readonly version: string;
  readonly templates: TemplateSet;
  readonly onProgress?: (what: string, done: number, total: number | null) => void;
  readonly onStep?: (node: string, step: string) => void;
}

export interface Artifact {
  readonly node: string;
  readonly image: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly mappedBytes: number;
  readonly bmap: string;
  readonly manifest: string;
  readonly compressed: string | null;
}

/**
 * A local base's SHA-256, remembered by path, device, inode, size and change times so a
 * rebuild from the same unchanged file does not read gigabytes again; any write to the file
 * changes its ctime and so its key.
 */
async function localHash(path: string, st: Stats, cacheDir: string): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify([path, st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs])).digest('hex');
  const memo = join(cacheDir, 'local', key);
  const known = await readFile(memo, 'utf8').catch(() => '');
  if (/^[0-9a-f]{64}$/.test(known)) return known;
  const sha256 = await sha256File(path);
  await mkdir(dirname(memo), { recursive: true, mode: 0o700 });
  await writeFile(`${memo}.tmp-${process.pid}`, sha256, { mode: 0o600 });
  await rename(`${memo}.tmp-${process.pid}`, memo);
  return sha256;
}

async function resolveBase(n: ResolvedNode, opts: BuildOptions): Promise<Base & { source: string }> {
  if (opts.base && !/^(https?|file):/.test(opts.base)) {
    // A local file: verified by the user who named it; its hash still keys the cache and the manifest.
    const path = resolve(opts.base);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) throw imgforgeError('BaseInvalid', { path, detail: 'no such file' });
    const sha256 = await localHash(path, st, opts.cacheDir);
    const raw = join(opts.cacheDir, 'raw', `${sha256}.img`);
    await mkdir(dirname(raw), { recursive: true, mode: 0o700 });
    if (!(await stat(raw).then(() => true, () => false))) await toRawImage(path, raw);
    return { raw, sha256, verified: false, source: path };
  }
  const d = n.profile.base.download;
  const b = n.profile.base.bootstrap;
  if (!d && !opts.base && b) {
    const built = await bootstrapBase({ suite: b.suite, mirror: b.mirror, arch: n.profile.base.arch, packages: b.packages, bios: n.profile.boot.firmware.includes('bios') }, {
      cacheDir: opts.cacheDir, templates: opts.templates, epoch: opts.epoch, onStep: (s) => opts.onStep?.(n.config.hostname, `base: ${s}`),
    });
    return { raw: built.raw, sha256: built.digest, verified: true, source: `bootstrap ${b.suite} ${b.mirror}` };
  }
  const src = opts.base ? { url: opts.base } : { url: d!.url, sha256: d!.sha256, sha256sums: d!.sha256sums, unverifiedReason: d!.unverifiedReason };
  const base = await fetchBase(src, {
    cacheDir: opts.cacheDir, allowUnverified: opts.allowUnverified,
    onProgress: (done, total) => opts.onProgress?.(src.url, done, total),
  });
  return { ...base, source: src.url };
}

function manifest(n: NodePlan, cluster: Cluster, base: Base & { source: string }, image: ImagePlan, digest: { sha256: string; mappedBytes: number }, steps: readonly string[], opts: BuildOptions): string {
  return `${JSON.stringify({
    imgforge: opts.version,
    cluster: cluster.config.cluster.name,
    node: n.hostname,
    role: n.role,
    profile: n.board,
    base: { source: base.source, sha256: base.sha256, verified: base.verified },
    seed: n.seed,
    layout: n.layout,
    image: {
      sizeBytes: image.sizeBytes, sha256: digest.sha256, mappedBytes: digest.mappedBytes, diskGuid: image.diskGuid,
      partitions: image.partitions.map((p) => ({ number: p.number, role: p.role, name: p.name, type: p.typeGuid, guid: p.uniqueGuid, firstLba: p.firstLba, lastLba: p.lastLba })),
      edits: image.edits,
    },
    steps,
    sourceDateEpoch: opts.epoch,
  }, null, 2)}\n`;
}

/** Build one node's image into opts.out; everything appears under its final name only once verified. */
export async function buildNode(cluster: Cluster, n: ResolvedNode, plan: NodePlan, seed: readonly SeedFile[], opts: BuildOptions, outputs: PendingOutputs): Promise<Artifact> {
  const step = (s: string): void => opts.onStep?.(plan.hostname, s);
  step('base');
  const base = await resolveBase(n, opts);
  const layout = probeBase(base.raw);
  const blobs = await Promise.all(n.profile.boot.blobs.map(async (b) => {
    const path = resolve(dirname(cluster.path), b.file);
    const data = await readFile(path).catch((e: Error) => { throw imgforgeError('ReadFailed', { path, detail: e.message }); });
    return { offsetBytes: b.offsetBytes, data };
  }));
  const image = planImage({ cluster: cluster.config.cluster.name, node: plan.hostname, basePath: base.raw, base: layout, profile: n.profile,
    diskBytes: opts.diskBytes, blobBytes: blobs.map((b) => b.data.length) });
  await mkdir(opts.out, { recursive: true, mode: 0o700 });
  const baseData = (await stat(base.raw)).blocks * 512;
  await ensureSpace(opts.out, baseData + image.cidata.sizeBytes + 64 * 2 ** 20);

  const final = join(resolve(opts.out), `${plan.hostname}.img`);
  const tmp = outputs.temp(final);
  step('assemble');
  const log = await assembleImage({ plan: image, base: base.raw, seed, blobs, epoch: opts.epoch }, tmp);
  step('verify and digest');
  // The checks run as separate processes while this one hashes: two cores, one pass each.
  const [digest] = await Promise.all([
    digestImage(tmp, image.sizeBytes, mustMap(image)),
    sgdiskVerify(tmp),
    fsckFatAt(tmp, image.cidata.offsetBytes, image.cidata.sizeBytes),
    image.root.fs === 'ext4' ? e2fsckReadOnly(tmp, image.root.offsetBytes) : Promise.resolve(),
  ]);
  await outputs.write(`${final}.bmap`, digest.bmap);
  await outputs.write(`${final}.sha256`, `${digest.sha256}  ${plan.hostname}.img\n`);
  await outputs.write(`${final.replace(/\.img$/, '')}.manifest.json`, manifest(plan, cluster, base, image, digest, log, opts));
  let compressed: string | null = null;
  if (opts.compress) {
    step(`compress (${opts.compress})`);
    compressed = `${final}.${opts.compress === 'zstd' ? 'zst' : 'xz'}`;
    await compress(tmp, outputs.temp(compressed), opts.compress);
  }
  return { node: plan.hostname, image: final, sizeBytes: image.sizeBytes, sha256: digest.sha256, mappedBytes: digest.mappedBytes,
    bmap: `${final}.bmap`, manifest: `${final.replace(/\.img$/, '')}.manifest.json`, compressed };
}
