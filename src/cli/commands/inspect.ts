import { existsSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { imgforgeError, isImgforgeError } from '../../errors/error.ts';
import { probeBase } from '../../image/probe.ts';
import { parseBmap } from '../../image/bmap.ts';
import { digestImage } from '../../execute/image/digest.ts';
import { load as loadYaml } from 'js-yaml';
import { BUNDLE_NAME } from '../../plan/bundle.ts';
import { BOOTSTRAP_NAME } from '../../plan/seed.ts';
import { mdir, mtype, mtypeBytes } from '../../tools/fat.ts';
import { readSeed, type SeedOnDisk } from '../../drive/seed.ts';
import { sgdiskVerify } from '../../tools/verify.ts';
import { formatBytes } from '../../util/size.ts';
import { json, type Io } from '../output.ts';
import type { GlobalOptions } from '../context.ts';

/** imgforge inspect <image|drive>: its partitions, its seed, its manifest, and whether it verifies (a drive: inspect-drive.ts). */
export async function inspectCommand(image: string, opts: GlobalOptions & { image?: string; out: string }, io: Io): Promise<number> {
  if (await stat(image).then((s) => s.isBlockDevice(), () => false)) {
    const { identifyTarget } = await import('../../drive/facts.ts');
    return (await import('./inspect-drive.ts')).inspectDrive(identifyTarget(image), opts, io);
  }
  if (!(await stat(image).then((s) => s.isFile(), () => false))) throw imgforgeError('ReadFailed', { path: image, detail: 'no such file' });
  let layout;
  try {
    layout = probeBase(image);
  } catch (e) {
    // About the file given, not a board's base.
    if (isImgforgeError(e) && e.code === 'BaseInvalid') throw imgforgeError('NotAnImage', { path: image, detail: e.message.slice(`${image}: `.length) }, { cause: e });
    throw e;
  }
  const problems: string[] = [];
  const cidata = layout.partitions.find((p) => p.fs === 'vfat' && p.label.toUpperCase() === 'CIDATA');
  let seed: SeedOnDisk['files'] = [];
  let instanceId: string | null = null;
  if (cidata) {
    const found = await readSeed(image, cidata.firstLba * 512);
    ({ files: seed, instanceId } = found);
    problems.push(...found.problems);
  } else {
    problems.push('no CIDATA partition: the image carries no seed');
  }
  // The bundle beside the seed, against the digest and size its user-data pins (the node refuses a mismatch).
  let bundle: { sha256: string; bytes: number; pinned: { sha256: string; bytes: number } | null; verified: boolean } | null = null;
  if (cidata && /imgforge-bundle\.tar/i.test(await mdir(image, cidata.firstLba * 512))) {
    const tar = await mtypeBytes(image, cidata.firstLba * 512, BUNDLE_NAME);
    const ud = loadYaml(await mtype(image, cidata.firstLba * 512, 'user-data')) as { bootcmd?: unknown[] } | null;
    const item = ud?.bootcmd?.find((c): c is string[] => Array.isArray(c) && c[3] === BOOTSTRAP_NAME);
    const pinned = item ? { sha256: item[4]!, bytes: Number(item[5]) } : null;
    const sha256 = createHash('sha256').update(tar).digest('hex');
    bundle = { sha256, bytes: tar.length, pinned, verified: pinned !== null && pinned.sha256 === sha256 && pinned.bytes === tar.length };
    if (!pinned) problems.push('user-data pins no bundle');
    else if (!bundle.verified) problems.push(`the bundle on CIDATA (${tar.length} bytes, SHA-256 ${sha256}) is not the one user-data pins (${pinned.bytes} bytes, SHA-256 ${pinned.sha256}): the node would refuse it`);
  }
  const base = image.replace(/\.img$/, '');
  const manifestFile = `${base}.manifest.json`;
  const manifest: unknown = existsSync(manifestFile) ? JSON.parse(readFileSync(manifestFile, 'utf8')) : null;
  if (layout.table === 'gpt') await sgdiskVerify(image).catch((e: Error) => problems.push(e.message));
  const verification: Record<string, string> = {};
  if (existsSync(`${image}.sha256`) || existsSync(`${image}.bmap`)) {
    const bmap = existsSync(`${image}.bmap`) ? parseBmap(readFileSync(`${image}.bmap`, 'utf8')) : null;
    const digest = await digestImage(image, layout.sizeBytes, []);
    if (existsSync(`${image}.sha256`)) {
      const want = readFileSync(`${image}.sha256`, 'utf8').split(/\s+/)[0];
      verification['sha256'] = want === digest.sha256 ? 'ok' : `mismatch: file has ${digest.sha256}, ${image}.sha256 says ${want}`;
    }
    if (bmap) verification['bmap'] = !bmap.bmapFileChecksumValid ? 'the bmap file checksum is wrong' : bmap.imageSize !== layout.sizeBytes ? 'the bmap is for an image of another size' : 'ok';
    for (const [k, v] of Object.entries(verification)) if (v !== 'ok') problems.push(`${k}: ${v}`);
  }
  const result = {
    image, table: layout.table, sizeBytes: layout.sizeBytes,
    partitions: layout.partitions.map((p) => ({ number: p.number, firstLba: p.firstLba, lastLba: p.lastLba, bytes: (p.lastLba - p.firstLba + 1) * 512, type: p.type, name: p.partlabel, fs: p.fs, label: p.label })),
    seed: { instanceId, files: seed }, bundle, manifest, verification, verified: problems.length === 0, problems,
  };
  if (opts.json) {
    io.out(json(result));
  } else {
    io.out(`${image}: ${layout.table.toUpperCase()}, ${formatBytes(layout.sizeBytes)}\n`);
    for (const p of result.partitions) io.out(`  ${String(p.number).padStart(3)} ${formatBytes(p.bytes).padStart(10)} ${p.fs.padEnd(5)} ${(p.label || '-').padEnd(16)} ${p.name}\n`);
    io.out(`seed: ${instanceId ?? 'none'} (${seed.map((f) => f.name).join(', ')})\n`);
    io.out(bundle ? `bundle: ${bundle.bytes} bytes, SHA-256 ${bundle.sha256}: ${bundle.verified ? 'matches the digest user-data pins' : 'DOES NOT match user-data'}\n` : 'bundle: none\n');
    io.out(manifest ? `manifest: ${manifestFile}\n` : 'manifest: none\n');
    for (const [k, v] of Object.entries(verification)) io.out(`${k}: ${v}\n`);
    io.out(problems.length ? `not verified:\n${problems.map((p) => `  - ${p}\n`).join('')}` : 'verified\n');
  }
  return problems.length ? 1 : 0;
}
