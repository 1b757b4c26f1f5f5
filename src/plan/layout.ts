import type { Layout } from '../config/schema/layout.ts';
import { gptGeometry } from '../image/gpt-format.ts';
import { formatAmount, formatBytes, type Amount } from '../util/size.ts';

/** Partitions start and end on 1 MiB boundaries: what parted, sgdisk and sfdisk align to by default. */
export const ALIGN_BYTES = 2 ** 20;

export interface PlannedPartition {
  /** Partition label (GPT partlabel). */
  readonly name: string;
  readonly role: 'root' | 'reserved';
  readonly format: 'ext4' | 'raw';
  readonly mountpoint: string | null;
  /** As declared: "50%", "64GiB", "rest". */
  readonly size: string;
  /** Resolved size in bytes when the disk size is known and the size is not "rest". */
  readonly bytes: number | null;
}

export interface LayoutPlan {
  readonly diskBytes: number | null;
  readonly partitions: readonly PlannedPartition[];
  /** Why this layout cannot work; empty when it can. */
  readonly problems: readonly string[];
}

const alignDown = (n: number): number => Math.floor(n / ALIGN_BYTES) * ALIGN_BYTES;

function bytesOf(a: Amount, disk: number | null): number | null {
  if (a.kind === 'bytes') return alignDown(a.bytes);
  if (a.kind === 'percent' && disk !== null) return alignDown((disk * a.percent) / 100);
  return null;
}

/**
 * Resolve a layout against the disk, pure: root first, then the reserved partitions in order.
 * The first-boot layout step applies it on the real disk, whose size the image cannot know.
 */
export function planLayout(layout: Layout, diskBytes: number | null): LayoutPlan {
  const entries = [
    { name: 'root', role: 'root' as const, format: 'ext4' as const, mountpoint: '/', size: layout.root.size },
    ...layout.reserved.map((r) => ({ name: r.name, role: 'reserved' as const, format: r.format, mountpoint: r.mountpoint ?? null, size: r.size })),
  ];
  const problems: string[] = [];
  const rests = entries.filter((e) => e.size.kind === 'rest');
  if (rests.length > 1) problems.push(`only one partition can take "rest", but ${rests.map((e) => e.name).join(' and ')} do`);
  const percent = entries.reduce((sum, e) => sum + (e.size.kind === 'percent' ? e.size.percent : 0), 0);
  if (percent > 100) problems.push(`the shares add up to ${percent}% of the disk`);
  const seen = new Set<string>();
  for (const r of layout.reserved) {
    if (seen.has(r.name) || ['root', 'cidata'].includes(r.name)) problems.push(`the partition name "${r.name}" is used twice or is reserved by imgforge`);
    seen.add(r.name);
    if (r.format === 'ext4' && !r.mountpoint) problems.push(`"${r.name}" is ext4 but has no mountpoint`);
    if (r.format === 'raw' && r.mountpoint) problems.push(`"${r.name}" is raw (no filesystem) and cannot be mounted at ${r.mountpoint}`);
  }
  const partitions = entries.map((e) => ({
    name: e.name, role: e.role, format: e.format, mountpoint: e.mountpoint, size: formatAmount(e.size), bytes: bytesOf(e.size, diskBytes),
  }));
  if (diskBytes !== null) {
    const fixed = partitions.reduce((sum, p) => sum + (p.bytes ?? 0), 0);
    if (fixed > diskBytes) problems.push(`the partitions need ${formatBytes(fixed)} but the disk holds ${formatBytes(diskBytes)}`);
  }
  return { diskBytes, partitions, problems };
}

const ALIGN_SECTORS = ALIGN_BYTES / 512;

export interface Placed {
  readonly name: string;
  readonly role: 'root' | 'reserved';
  readonly firstLba: number;
  readonly lastLba: number;
}

/**
 * Where root and the reserved partitions go on a disk of `diskSectors` when root starts at
 * `rootFirst`: the same arithmetic the first-boot layout stage does in shell
 * (runtime/usr/local/lib/imgforge/stages/layout.sh), so an image built for a known disk and a disk laid out at
 * first boot end up identical. Returns a problem instead when the layout does not fit.
 */
export function placePartitions(plan: LayoutPlan, rootFirst: number, diskSectors: number): Placed[] | string {
  if (diskSectors < 2 * ALIGN_SECTORS) return `a disk of ${diskSectors} sectors is too small for a GPT`;
  const usableEnd = Math.floor((gptGeometry(diskSectors).lastUsableLba + 1) / ALIGN_SECTORS) * ALIGN_SECTORS; // exclusive
  const wanted = plan.partitions.map((p) => (p.bytes === null ? null : Math.floor(p.bytes / 512 / ALIGN_SECTORS) * ALIGN_SECTORS));
  const fixed = wanted.reduce<number>((s, w) => s + (w ?? 0), 0);
  const rest = usableEnd - rootFirst - fixed;
  if (rest < 0) return `the layout needs ${fixed / 2048} MiB after root's start but the disk has ${(usableEnd - rootFirst) / 2048} MiB`;
  if (wanted.includes(null) && rest < ALIGN_SECTORS) return 'no space is left for the partition that takes the rest';
  const out: Placed[] = [];
  let pos = rootFirst;
  plan.partitions.forEach((p, i) => {
    let size = wanted[i] ?? rest;
    // Root starts wherever the image put it, so its end is aligned rather than its size.
    if (p.role === 'root') size = Math.floor((pos + size) / ALIGN_SECTORS) * ALIGN_SECTORS - pos;
    out.push({ name: p.name, role: p.role, firstLba: pos, lastLba: pos + size - 1 });
    pos += size;
  });
  return out;
}
