/**
 * `imgforge flash` as a plan, pure: which image ranges go where, what stale metadata is zeroed,
 * which partition table the drive ends with, and every reason not to write at all. The executor
 * (execute/flash.ts) does exactly this and decides nothing.
 *
 * Write order (crash-safe, after coreos-installer and rpi-imager): zero the first MiB; copy the
 * mapped ranges (the first MiB held back); zero stale metadata; write the backup GPT at the drive's
 * end; sync; write the first MiB (protective MBR and primary GPT) last; sync. Until that last write
 * the drive has no partition table, so an interrupted flash never leaves a bootable half-image.
 */
import type { Layout } from '../config/schema/layout.ts';
import type { DriveContents } from '../drive/contents.ts';
import type { HostFacts, Target } from '../drive/facts.ts';
import type { BmapRange } from '../image/bmap.ts';
import { encodeGpt, type EncodedGpt } from '../image/gpt.ts';
import { gptTailSectors } from '../image/gpt-format.ts';
import { judgeTarget, type Refusal } from './flash-safety.ts';
import { layOnDisk, SECTOR_BYTES, type ImagePartition } from './image.ts';
import { planLayout } from './layout.ts';
import { formatBytes } from '../util/size.ts';
import { merge, subtract, type Extent } from './extents.ts';

const MIB = 2 ** 20;

export interface FlashImage {
  readonly path: string;
  readonly sizeBytes: number;
  readonly blockSize: number;
  readonly ranges: readonly BmapRange[];
  /** The image's GPT (roles from its manifest, else "other"); null when the image has none. */
  readonly table: { readonly diskGuid: string; readonly partitions: readonly ImagePartition[] } | null;
  /** Bytes 0-439 of the image: legacy BIOS boot code the new protective MBR keeps. */
  readonly bootCode: Buffer | null;
  /** Sectors root's file system takes, from its superblock. */
  readonly rootFsSectors: number | null;
  /** The node the image is for, from its manifest and the config: its layout gives the final table. */
  readonly node: { readonly cluster: string; readonly hostname: string; readonly layout: Layout; readonly media: string | null;
    /** The layout the image was built with ("name size" per partition, from the manifest), to catch a config changed since. */
    readonly builtWith: readonly string[] } | null;
}

export interface FlashOptions { readonly wipe: boolean; readonly verify: boolean; readonly yes: boolean; readonly canAsk: boolean }

export interface FlashPlan {
  readonly image: string;
  readonly target: Target & { readonly host: HostFacts | null; readonly contents: DriveContents };
  /** The target's size after the flash (a file smaller than the image grows to it). */
  readonly sizeBytes: number;
  readonly refusals: readonly Refusal[];
  readonly warnings: readonly string[];
  /** Whence the partition table: the node's layout for this drive, or the image's own with its backup moved to the end. */
  readonly tableFrom: 'node layout' | 'image' | 'none';
  readonly partitions: readonly ImagePartition[];
  readonly imageBytes: number;
  readonly blockSize: number;
  readonly ranges: readonly BmapRange[];
  readonly mappedBytes: number;
  /** Written last; zeroed first. */
  readonly headBytes: number;
  /** Zeroed before anything else: the head, and every place a backup GPT of the old table may be. */
  readonly zeroFirst: readonly Extent[];
  /** Image bytes not copied: its backup GPT, which the new one at the drive's end replaces. */
  readonly skip: readonly Extent[];
  readonly zero: readonly Extent[];
  readonly gpt: EncodedGpt | null;
  readonly verify: boolean;
}

const sameLayout = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** The whole flash of one image to one target, or the refusals that stop it. */
export function planFlash(image: FlashImage, target: Target, host: HostFacts | null, contents: DriveContents, fileBytes: number, opts: FlashOptions): FlashPlan {
  const sizeBytes = host ? host.sizeBytes : Math.max(fileBytes, image.sizeBytes);
  const safety = judgeTarget({ target, host, contents, sizeBytes, neededBytes: image.sizeBytes, media: image.node?.media ?? null, ...opts });
  const refusals = [...safety.refusals];
  const warnings = [...safety.warnings];
  const sectors = Math.floor(sizeBytes / SECTOR_BYTES);
  let partitions: readonly ImagePartition[] = image.table?.partitions ?? [];
  let tableFrom: FlashPlan['tableFrom'] = image.table ? 'image' : 'none';
  const node = image.node;
  if (image.table && node) {
    const now = planLayout(node.layout, null).partitions.map((p) => `${p.name} ${p.size}`);
    if (!sameLayout(now, node.builtWith)) {
      refusals.push({ rule: 'stale', never: false, message: `${image.path} was built for the layout ${node.builtWith.join(', ')}; the config now says ${now.join(', ')}: rebuild it` });
    } else if (sizeBytes >= image.sizeBytes) {
      const laid = layOnDisk({ cluster: node.cluster, node: node.hostname, layout: node.layout, partitions: image.table.partitions, diskBytes: sizeBytes, rootMinSectors: image.rootFsSectors ?? 0 });
      if (typeof laid === 'string') refusals.push({ rule: 'layout', never: false, message: `${target.path}: ${laid}` });
      else { partitions = laid; tableFrom = 'node layout'; }
    }
  } else if (image.table) {
    warnings.push(`${image.path} names no node of the config: its partition table is written as it is, with the backup GPT at the drive's end`);
  }
  let gpt: EncodedGpt | null = null;
  if (image.table && refusals.length === 0) {
    gpt = encodeGpt({ diskSectors: sectors, diskGuid: image.table.diskGuid, partitions: partitions.map((p) => ({ ...p })), bootCode: image.bootCode ?? undefined });
  }
  const headBytes = Math.min(MIB, image.sizeBytes);
  const tail = gptTailSectors() * SECTOR_BYTES;
  const skip: Extent[] = image.table ? [{ offset: image.sizeBytes - tail, length: tail }] : [];
  const written = image.ranges.flatMap((r) => subtract({ offset: r.first * image.blockSize, length: (r.last - r.first + 1) * image.blockSize }, skip));
  const keep = [...written, { offset: 0, length: headBytes }, ...(gpt ? [{ offset: gpt.backupOffsetBytes, length: gpt.backup.length }] : [])];
  const zero = merge(staleMetadata(sizeBytes, contents, partitions, skip).flatMap((c) => subtract(c, keep)));
  // Linux falls back to the backup GPT when the primary is invalid (block/partitions/efi.c
  // find_valid_gpt): until the new table is written the old backups must be gone too.
  const oldBackup = contents.backupGptLba === null ? [] : [{ offset: (contents.backupGptLba + 1) * SECTOR_BYTES - tail, length: tail }];
  const zeroFirst = merge([{ offset: 0, length: headBytes }, { offset: sizeBytes - tail, length: tail }, ...oldBackup]
    .filter((e) => e.offset >= 0 && e.offset + e.length <= sizeBytes));
  const mappedBytes = image.ranges.reduce((n, r) => n + Math.min((r.last + 1) * image.blockSize, image.sizeBytes) - r.first * image.blockSize, 0);
  return {
    image: image.path, target: { ...target, host, contents }, sizeBytes, refusals, warnings, tableFrom, partitions,
    imageBytes: image.sizeBytes, blockSize: image.blockSize, ranges: image.ranges, mappedBytes, headBytes, zeroFirst, skip, zero, gpt, verify: opts.verify,
  };
}

/**
 * Where old metadata may lie that the image's mapped ranges do not overwrite: the drive's last MiB
 * (backup GPT, mdraid 0.90/1.0 superblocks, ZFS labels L2/L3), wherever the old primary GPT put its
 * backup, and the first and last MiB of every old and new partition (file system, LVM, Ceph and
 * bcache labels at the start; md and ZFS at the end). Unmapped image blocks are zeros, so zeroing
 * them writes exactly the image.
 */
function staleMetadata(size: number, contents: DriveContents, partitions: readonly ImagePartition[], skip: readonly Extent[]): Extent[] {
  const ends = (first: number, last: number): Extent[] => {
    const a = first * SECTOR_BYTES, b = (last + 1) * SECTOR_BYTES, n = Math.min(MIB, b - a);
    return [{ offset: a, length: n }, { offset: b - n, length: n }];
  };
  const out = [
    { offset: size - Math.min(MIB, size), length: Math.min(MIB, size) },
    ...skip,
    ...contents.partitions.flatMap((p) => ends(p.firstLba, p.lastLba)),
    ...partitions.flatMap((p) => ends(p.firstLba, p.lastLba)),
  ];
  if (contents.backupGptLba !== null) {
    const first = Math.max(0, contents.backupGptLba - gptTailSectors() + 1);
    out.push({ offset: first * SECTOR_BYTES, length: (contents.backupGptLba - first + 1) * SECTOR_BYTES });
  }
  return out.map((e) => ({ ...e, length: Math.max(0, Math.min(e.offset + e.length, size) - e.offset) })).filter((e) => e.length > 0 && e.offset < size);
}

/** The plan as --json and the confirmation show it (no buffers). */
export function describeFlash(p: FlashPlan): unknown {
  const h = p.target.host;
  return {
    image: p.image, target: p.target.path, kind: p.target.kind, name: p.target.name, sizeBytes: p.sizeBytes, size: formatBytes(p.sizeBytes),
    model: h?.model ?? null, serial: h?.serial ?? null, removable: h?.removable ?? null,
    current: { table: p.target.contents.table, partitions: p.target.contents.partitions, signatures: p.target.contents.signatures },
    refusals: p.refusals, warnings: p.warnings, tableFrom: p.tableFrom,
    partitions: p.partitions.map((x) => ({ number: x.number, role: x.role, name: x.name, type: x.typeGuid, firstLba: x.firstLba, lastLba: x.lastLba, bytes: (x.lastLba - x.firstLba + 1) * SECTOR_BYTES })),
    mappedBytes: p.mappedBytes, ranges: p.ranges.length, zero: p.zero, skip: p.skip, verify: p.verify,
  };
}
