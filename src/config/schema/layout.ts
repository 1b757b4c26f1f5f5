import { z } from 'zod';
import { AbsolutePath, Amount } from './primitives.ts';

/** A partition kept for storage: raw for Rook-Ceph OSDs, ext4 for Longhorn or other data. */
export const ReservedPartition = z.strictObject({
  /** Partition label (GPT partlabel); the node finds it at /dev/disk/by-partlabel/<name>. */
  name: z.string().regex(/^[a-z][a-z0-9-]{0,35}$/, 'must be a lowercase partition label of at most 36 characters'),
  /** Size on the target disk: bytes ("200GiB"), a share ("50%") or "rest" (what is left after root and the others). */
  size: Amount,
  /** "raw": no filesystem, wiped at first boot (Rook requires an empty FSTYPE); "ext4": formatted and mounted. @default "raw" */
  format: z.enum(['raw', 'ext4']).default('raw'),
  /** Where an ext4 partition is mounted, e.g. /var/lib/longhorn. Required for ext4, refused for raw. */
  mountpoint: AbsolutePath.optional(),
});

/** How the target disk is shared between root and reserved partitions. */
export const Layout = z.strictObject({
  /** The root filesystem. */
  root: z.strictObject({
    /** Size root grows to at first boot: bytes, a share of the disk, or "rest". @default "rest" */
    size: Amount.prefault('rest'),
  }).prefault({}),
  /** Partitions created after root at first boot, in this order. @default [] */
  reserved: z.array(ReservedPartition).default([]),
});

/** A node's or an override's change to a layout: root and/or the reserved list (which replaces, not merges). */
export const LayoutPatch = z.strictObject({
  /** The root filesystem. */
  root: z.strictObject({
    /** Size root grows to at first boot: bytes, a share of the disk, or "rest". */
    size: Amount,
  }).optional(),
  /** Partitions created after root; replaces the profile's list. */
  reserved: z.array(ReservedPartition).optional(),
});

export type ReservedPartition = z.output<typeof ReservedPartition>;
export type Layout = z.output<typeof Layout>;
