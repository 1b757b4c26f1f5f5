import { mkdtemp, open, rm, utimes, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGpt } from '../../image/gpt.ts';
import { MBR_BOOT_CODE_BYTES } from '../../image/grub-bios.ts';
import type { ImagePlan } from '../../plan/image.ts';
import type { SeedFile } from '../../plan/seed.ts';
import { debugfs } from '../../tools/ext4.ts';
import { mcopy, mkfsFat } from '../../tools/fat.ts';
import { dataExtents, type Extent } from '../../tools/filefrag.ts';
import { copySparse } from './copy.ts';
import { digestHead, dropDigestHead } from './digest.ts';

export interface AssembleInput {
  readonly plan: ImagePlan;
  readonly base: string;
  readonly seed: readonly SeedFile[];
  /** Bootloader blobs to write, already read: bytes and their disk offsets. */
  readonly blobs: readonly { readonly offsetBytes: number; readonly data: Buffer }[];
  /** SOURCE_DATE_EPOCH: the only time that goes into the image. */
  readonly epoch: number;
  /** Shown the image's head as it is hashed early (digestHead). */
  readonly observe?: ((chunk: Buffer, pos: number) => void) | undefined;
}

/** Regions a flash must write even where they are zero (see digestImage). */
export function mustMap(plan: ImagePlan): Extent[] {
  const gpt = encodeGpt({ diskSectors: plan.sizeBytes / 512, diskGuid: plan.diskGuid, partitions: [] });
  const mib = 2 ** 20;
  return [
    { offset: 0, length: gpt.primary.length },
    { offset: gpt.backupOffsetBytes, length: gpt.backup.length },
    { offset: plan.cidata.offsetBytes, length: plan.cidata.sizeBytes },
    ...plan.partitions.filter((p) => p.role === 'reserved').flatMap((p) => {
      const start = p.firstLba * 512, end = (p.lastLba + 1) * 512;
      return [{ offset: start, length: Math.min(mib, end - start) }, { offset: Math.max(start, end - mib), length: Math.min(mib, end - start) }];
    }),
  ];
}

/** Every folder above the paths, parents first ("/etc", "/etc/imgforge"), once each. */
export function parentsOf(paths: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/').slice(1, -1);
    parts.forEach((_, i) => out.add(`/${parts.slice(0, i + 1).join('/')}`));
  }
  return [...out];
}

/**
 * debugfs commands for the plan's root edits: delete quirk files, leave machine-id empty (owned by
 * root, 0444), write the added files (owned by root, their mode) and links. debugfs(8) `mkdir` of
 * a folder that exists reports an error and the batch goes on; new folders get 0755.
 */
export function rootEdits(plan: ImagePlan, emptyFile: string, fileFor: (index: number) => string): string[] {
  const owned = (f: string, mode: string): string[] => [`sif ${f} mode ${mode}`, `sif ${f} uid 0`, `sif ${f} gid 0`];
  const added = [...plan.edits.write.map((f) => f.path), ...plan.edits.link.map((l) => l.path)];
  return [
    ...plan.edits.remove.map((f) => `rm ${f}`),
    ...plan.edits.empty.flatMap((f) => [`rm ${f}`, `write ${emptyFile} ${f}`, ...owned(f, '0100444')]),
    ...parentsOf(added).map((d) => `mkdir ${d}`),
    ...plan.edits.write.flatMap((f, i) => [`rm ${f.path}`, `write ${fileFor(i)} ${f.path}`, ...owned(f.path, `0100${f.mode.toString(8).padStart(3, '0')}`)]),
    ...plan.edits.link.flatMap((l) => [`rm ${l.path}`, `symlink ${l.path} ${l.target}`]),
  ];
}

/**
 * Write one image at `out` as the plan says; decides nothing. Every step works on the file
 * itself: no loop device, no mount, no root.
 */
export async function assembleImage(input: AssembleInput, out: string): Promise<string[]> {
  const { plan } = input;
  const log: string[] = [];
  const stage = await mkdtemp(join(tmpdir(), 'imgforge-seed-'));
  // The image's head (everything before CIDATA and root, the only places written after the base's
  // other partitions are copied) is final early: it is hashed while root is copied and edited.
  const laterFrom = Math.min(plan.cidata.offsetBytes, plan.root.offsetBytes);
  const headEnd = Math.min(laterFrom, ...plan.partitions.filter((p) => p.source && (p.lastLba + 1) * 512 > laterFrom).map((p) => p.firstLba * 512));
  const written: Extent[] = [];
  let head: Promise<void> | undefined;
  const startHead = (): void => {
    head ??= digestHead(out, plan.sizeBytes, mustMap(plan), written.filter((r) => r.offset < headEnd), headEnd, input.observe);
    head.catch(() => { /* awaited below */ });
  };
  try {
    const img = await open(out, 'w', 0o600);
    const base = await open(input.base, 'r');
    try {
      await img.truncate(plan.sizeBytes);
      const bootCode = plan.keepBootCode ? (await base.read(Buffer.alloc(MBR_BOOT_CODE_BYTES), 0, MBR_BOOT_CODE_BYTES, 0)).buffer : undefined;
      const gpt = encodeGpt({ diskSectors: plan.sizeBytes / 512, diskGuid: plan.diskGuid, partitions: plan.partitions.map((p) => ({ ...p })), bootCode });
      await img.write(gpt.primary, 0, gpt.primary.length, 0);
      await img.write(gpt.backup, 0, gpt.backup.length, gpt.backupOffsetBytes);
      written.push({ offset: 0, length: gpt.primary.length }, { offset: gpt.backupOffsetBytes, length: gpt.backup.length });
      const extents = await dataExtents(input.base, (await base.stat()).size);
      if (plan.bootArea) {
        const n = await copySparse(base, extents, plan.bootArea.fromByte, plan.bootArea.toByte - plan.bootArea.fromByte, img, plan.bootArea.fromByte, written);
        log.push(`kept ${n} bytes of the base's boot area`);
      }
      for (const blob of input.blobs) {
        await img.write(blob.data, 0, blob.data.length, blob.offsetBytes);
        written.push({ offset: blob.offsetBytes, length: blob.data.length });
      }
      for (const p of plan.partitions) {
        if (!p.source) continue;
        if (p.firstLba * 512 >= headEnd) startHead();
        const n = await copySparse(base, extents, p.source.firstLba * 512, (p.source.lastLba - p.source.firstLba + 1) * 512, img, p.firstLba * 512, head ? undefined : written);
        log.push(`copied ${p.role} partition ${p.number} (${n} bytes of data)`);
      }
      startHead();
      await img.sync();
    } finally {
      await base.close();
      await img.close();
    }

    await mkfsFat(out, { offsetBytes: plan.cidata.offsetBytes, sizeBytes: plan.cidata.sizeBytes, label: 'CIDATA', volumeId: plan.cidata.volumeId });
    const files: string[] = [];
    for (const f of input.seed) {
      const path = join(stage, f.name);
      await writeFile(path, f.content, { mode: 0o600 });
      await utimes(path, input.epoch, input.epoch);
      files.push(path);
    }
    if (files.length > 0) {
      await mcopy(out, plan.cidata.offsetBytes, files);
      log.push(`wrote the seed (${input.seed.map((f) => f.name).join(', ')}) to CIDATA`);
    } else log.push('left CIDATA empty');

    const empty = join(stage, 'empty');
    await writeFile(empty, '');
    await chmod(empty, 0o444);
    const added = (i: number): string => join(stage, `root-file-${i}`);
    for (const [i, f] of plan.edits.write.entries()) await writeFile(added(i), f.content);
    const result = await debugfs(out, plan.root.offsetBytes, rootEdits(plan, empty, added), { write: true, epoch: input.epoch });
    for (const f of plan.edits.remove) log.push(new RegExp(`rm ${f}[^\\n]*\\n[^\\n]*not found`).test(result) ? `${f}: not in the base` : `removed ${f}`);
    log.push(`emptied ${plan.edits.empty.join(', ')}`);
    for (const f of plan.edits.write) log.push(`wrote ${f.path}`);
    for (const l of plan.edits.link) log.push(`linked ${l.path} to ${l.target}`);
    await head;
    return log;
  } catch (e) {
    await head?.catch(() => undefined);
    dropDigestHead(out);
    throw e;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
