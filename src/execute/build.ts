import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ObtainedBase } from '../base/obtain.ts';
import type { Cluster } from '../config/resolve.ts';
import { audit } from '../audit/index.ts';
import { KeyScanner } from '../audit/scan.ts';
import { imgforgeError, isImgforgeError } from '../errors/error.ts';
import type { SecretsBundle } from '../secrets/schema.ts';
import { describeImage, type ImagePlan } from '../plan/image.ts';
import type { NodePlan } from '../plan/index.ts';
import type { SeedFile } from '../plan/seed.ts';
import { e2fsckReadOnly } from '../tools/ext4.ts';
import { fsckFatAt, sgdiskVerify } from '../tools/verify.ts';
import { assembleImage, mustMap } from './image/assemble.ts';
import { digestImage } from './image/digest.ts';
import { compress, ensureSpace, type PendingOutputs } from './image/outputs.ts';

export interface BuildOptions {
  readonly out: string;
  readonly compress?: 'zstd' | 'xz' | undefined;
  readonly epoch: number;
  readonly version: string;
  readonly onStep?: ((node: string, step: string) => void) | undefined;
  /** The cluster's secrets, which name the keys the audit finds. */
  readonly secrets?: SecretsBundle | undefined;
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

/** What a node's manifest says of it besides the image: the plan's account of the node. */
export function nodeManifest(n: NodePlan): Record<string, unknown> {
  return { node: n.hostname, role: n.role, profile: n.board, seed: n.seed, layout: n.layout, bundle: n.bundle, stages: n.stages.map((s) => s.name) };
}

function manifest(what: Record<string, unknown>, cluster: Cluster, base: ObtainedBase, image: ImagePlan, digest: { sha256: string; mappedBytes: number }, steps: readonly string[], opts: BuildOptions): string {
  const { node, role, profile, ...rest } = what;
  return `${JSON.stringify({
    imgforge: opts.version,
    cluster: cluster.config.cluster.name,
    node, role, profile,
    base: { source: base.source, sha256: base.sha256, verified: base.verified },
    ...rest,
    // The table `imgforge plan` prints for this base: describeImage of the same plan.
    image: { ...describeImage(image), sha256: digest.sha256, mappedBytes: digest.mappedBytes },
    steps,
    sourceDateEpoch: opts.epoch,
  }, null, 2)}\n`;
}

/** A checker that ran and found problems makes the image invalid (exit 7), not a failed tool (exit 5). */
async function check(run: Promise<unknown>, path: string, what: string): Promise<void> {
  try {
    await run;
  } catch (e) {
    if (isImgforgeError(e) && e.code === 'ToolFailed') throw imgforgeError('ImageInvalid', { path, check: what, detail: e.message }, { cause: e });
    throw e;
  }
}

/** Write one node's image as planned into opts.out; everything appears under its final name only once verified. Decides nothing. */
export async function buildNode(cluster: Cluster, plan: NodePlan, image: ImagePlan, seed: readonly SeedFile[], base: ObtainedBase,
  blobs: readonly { offsetBytes: number; data: Buffer }[], opts: BuildOptions, outputs: PendingOutputs): Promise<Artifact> {
  return buildImage(cluster, { name: plan.hostname, manifest: nodeManifest(plan) }, image, seed, base, blobs, opts, outputs);
}

/**
 * Write an image named `target.name` (<name>.img, .bmap, .sha256, .manifest.json) as planned: a
 * node's, or a generic one (build-generic.ts). Decides nothing.
 */
export async function buildImage(cluster: Cluster, target: { readonly name: string; readonly manifest: Record<string, unknown> }, image: ImagePlan,
  seed: readonly SeedFile[], base: ObtainedBase, blobs: readonly { offsetBytes: number; data: Buffer }[], opts: BuildOptions, outputs: PendingOutputs): Promise<Artifact> {
  const name = target.name;
  const step = (s: string): void => opts.onStep?.(name, s);
  await mkdir(opts.out, { recursive: true, mode: 0o700 });
  const baseData = (await stat(base.raw)).blocks * 512;
  await ensureSpace(opts.out, baseData + image.cidata.sizeBytes + 64 * 2 ** 20);

  const final = join(resolve(opts.out), `${name}.img`);
  const tmp = outputs.temp(final);
  // The secrets audit's scanner sees the bytes as they are hashed, the head during assembly and
  // the rest after it: the image is read once.
  const scanner = new KeyScanner();
  const observe = (chunk: Buffer, pos: number): void => scanner.feed(chunk, pos);
  step('assemble');
  const log = await assembleImage({ plan: image, base: base.raw, seed, blobs, epoch: opts.epoch, observe }, tmp);
  step('verify, digest and audit');
  // The checks run as separate processes while this one hashes and audits: two cores, one pass each.
  // The audit reads the seed's files meanwhile and waits for the digest's scan only at its end.
  const digesting = digestImage(tmp, image.sizeBytes, mustMap(image), observe);
  const [digest, audited] = await Promise.all([
    digesting,
    audit(tmp, { bundle: opts.secrets, scanned: digesting.then((d) => ({ scanner, from: d.observedFrom })) }),
    sgdiskVerify(tmp),
    check(fsckFatAt(tmp, image.cidata.offsetBytes, image.cidata.sizeBytes), tmp, 'fsck.fat -n on CIDATA'),
    image.root.fs === 'ext4' ? check(e2fsckReadOnly(tmp, image.root.offsetBytes), tmp, 'e2fsck -fn on root') : Promise.resolve(),
  ]);
  // The same audit as `imgforge audit`: a key the node must not hold (in the base, or put there by
  // a bug) stops the build before the image has a name anyone could flash.
  if (!audited.ok) throw imgforgeError('SecretsLeak', { path: tmp, node: name, violations: audited.violations.join('; ') });
  await outputs.write(`${final}.bmap`, digest.bmap);
  await outputs.write(`${final}.sha256`, `${digest.sha256}  ${name}.img\n`);
  await outputs.write(`${final.replace(/\.img$/, '')}.manifest.json`, manifest(target.manifest, cluster, base, image, digest, log, opts));
  let compressed: string | null = null;
  if (opts.compress) {
    step(`compress (${opts.compress})`);
    compressed = `${final}.${opts.compress === 'zstd' ? 'zst' : 'xz'}`;
    await compress(tmp, outputs.temp(compressed), opts.compress);
  }
  return { node: name, image: final, sizeBytes: image.sizeBytes, sha256: digest.sha256, mappedBytes: digest.mappedBytes,
    bmap: `${final}.bmap`, manifest: `${final.replace(/\.img$/, '')}.manifest.json`, compressed };
}
