import { existsSync, readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { readHostFacts, type Target } from '../../drive/facts.ts';
import { readSeed, type SeedOnDisk } from '../../drive/seed.ts';
import { imgforgeError } from '../../errors/error.ts';
import { readExact } from '../../execute/flash-io.ts';
import { parseBmap } from '../../image/bmap.ts';
import { probeBase } from '../../image/probe.ts';
import { merge, subtract } from '../../plan/extents.ts';
import type { Role } from '../../plan/image.ts';
import { formatBytes } from '../../util/size.ts';
import { json, type Io } from '../output.ts';

/** Roles whose bytes a running node changes: root's file system grows and fills, reserved partitions are wiped and used. */
const MUTABLE: readonly Role[] = ['root', 'reserved'];

interface Manifest { readonly image: { readonly sha256: string; readonly partitions: readonly { readonly number: number; readonly role: Role; readonly name: string; readonly offsetBytes: number; readonly bytes: number }[] } }

/**
 * The parts of the image that stay as flashed (the boot area and every partition but root and the
 * reserved ones), compared with the drive byte for byte where the image maps them. The GPT itself
 * is left out: flash writes the table for the drive's size, not the image's.
 */
async function compare(device: string, image: string, manifest: Manifest): Promise<{ part: string; verified: boolean }[]> {
  const bmap = parseBmap(readFileSync(`${image}.bmap`, 'utf8'));
  const mapped = bmap.ranges.map((r) => ({ offset: r.first * bmap.blockSize, length: Math.min((r.last + 1) * bmap.blockSize, bmap.imageSize) - r.first * bmap.blockSize }));
  const parts = manifest.image.partitions.filter((p) => !MUTABLE.includes(p.role));
  const first = Math.min(...manifest.image.partitions.map((p) => p.offsetBytes));
  const areas = [{ part: 'boot area', at: { offset: 34 * 512, length: first - 34 * 512 } }, ...parts.map((p) => ({ part: `${p.number} ${p.name || p.role}`, at: { offset: p.offsetBytes, length: p.bytes } }))];
  const [d, i] = [await open(device, 'r'), await open(image, 'r')];
  try {
    const out: { part: string; verified: boolean }[] = [];
    for (const a of areas) {
      const pieces = merge(mapped.flatMap((m) => subtract(m, [{ offset: 0, length: a.at.offset }, { offset: a.at.offset + a.at.length, length: Number.MAX_SAFE_INTEGER }])));
      let same = true;
      for (const p of pieces) for (let o = p.offset; same && o < p.offset + p.length; o += 4 * 2 ** 20) {
        const n = Math.min(4 * 2 ** 20, p.offset + p.length - o);
        same = (await readExact(d, o, n)).equals(await readExact(i, o, n));
      }
      out.push({ part: a.part, verified: same });
    }
    return out;
  } finally {
    await d.close();
    await i.close();
  }
}

/** imgforge inspect <drive>: the node it was flashed for, its seed, and whether the image's fixed parts are as flashed. */
export async function inspectDrive(target: Target, opts: { json: boolean; image?: string; out: string }, io: Io): Promise<number> {
  const host = readHostFacts(target.name!);
  const layout = probeBase(target.path, host.sizeBytes);
  const cidata = layout.partitions.find((p) => p.fs === 'vfat' && p.label.toUpperCase() === 'CIDATA');
  if (!cidata) throw imgforgeError('NotAnImage', { path: target.path, detail: 'it has no CIDATA partition, so no imgforge image was flashed to it' });
  const seed: SeedOnDisk = await readSeed(target.path, cidata.firstLba * 512);
  const problems = [...seed.problems];
  const image = opts.image ?? (seed.hostname ? join(opts.out, `${seed.hostname}.img`) : null);
  const manifestFile = image?.replace(/\.img$/, '.manifest.json');
  let sha256: string | null = null;
  let parts: { part: string; verified: boolean }[] = [];
  if (image && manifestFile && existsSync(`${image}.bmap`) && existsSync(manifestFile)) {
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    sha256 = manifest.image.sha256;
    parts = await compare(target.path, image, manifest);
    for (const p of parts) if (!p.verified) problems.push(`${p.part} differs from ${image}`);
  } else {
    problems.push(`no image to compare with${image ? ` (${image} with its .bmap and manifest)` : ''}: pass --image`);
  }
  const result = { drive: target.path, sizeBytes: host.sizeBytes, model: host.model, serial: host.serial, node: seed.hostname, instanceId: seed.instanceId,
    seed: { sha256: seed.sha256, files: seed.files }, image: image && sha256 ? { path: image, sha256 } : null, parts, verified: problems.length === 0, problems };
  if (opts.json) io.out(json(result));
  else {
    io.out(`${target.path}: ${[host.model, host.serial, formatBytes(host.sizeBytes)].filter(Boolean).join(', ')}\n`);
    io.out(`node: ${seed.hostname ?? 'unknown'} (instance ${seed.instanceId ?? '-'})\nseed: SHA-256 ${seed.sha256} (${seed.files.map((f) => f.name).join(', ')})\n`);
    if (sha256) io.out(`image: ${image} SHA-256 ${sha256}\n`);
    for (const p of parts) io.out(`  ${p.part}: ${p.verified ? 'as flashed' : 'CHANGED'}\n`);
    io.out(problems.length ? `not verified:\n${problems.map((p) => `  - ${p}\n`).join('')}` : 'verified\n');
  }
  return problems.length ? 1 : 0;
}
