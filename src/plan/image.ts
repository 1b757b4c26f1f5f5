import { createHash } from 'node:crypto';
import { imgforgeError } from '../errors/error.ts';
import { gptHeadSectors, gptTailSectors } from '../image/gpt-format.ts';
import { deriveGuid } from '../image/guid.ts';
import type { BaseLayout, BasePartition } from '../image/probe.ts';
import type { Profile } from '../profiles/schema.ts';
import type { Layout } from '../config/schema/layout.ts';
import type { RootFile, RootLink } from './generic.ts';
import { placePartitions, planLayout } from './layout.ts';

export const SECTOR_BYTES = 512;
/** 1 MiB in sectors: every partition imgforge places starts and ends on this boundary. */
const ALIGN = 2048;
/** The seed partition: FAT16 with 2 KiB clusters (16384 of them) holds seeds with certificates and keys. */
export const CIDATA_BYTES = 32 * 2 ** 20;

/** GPT type GUIDs (UEFI 2.10 table 5.7; Discoverable Partitions Specification). */
const TYPE = {
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  basicData: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
} as const;
/**
 * imgforge's own type for a reserved partition that is created but not yet wiped: the first-boot
 * layout stage wipes (and formats) only partitions of this type, then gives them the Linux data
 * type. What a partition may hold is read from the disk itself, never from a file of ours
 * (runtime/usr/local/lib/imgforge/stages/layout.sh PENDING_TYPE).
 */
export const PENDING_TYPE = '7D7C3E1C-5B0F-4D56-9A8E-1A3E0C6B2F41';
/** GPT attribute bit 2, "legacy BIOS bootable": what U-Boot's distro boot reads instead of the MBR boot flag. */
const LEGACY_BOOTABLE = 1n << 2n;

export type Role = 'root' | 'boot' | 'esp' | 'biosBoot' | 'cidata' | 'reserved' | 'other';

export interface ImagePartition {
  readonly number: number;
  readonly role: Role;
  readonly name: string;
  readonly typeGuid: string;
  readonly uniqueGuid: string;
  readonly firstLba: number;
  readonly lastLba: number;
  readonly attributes: bigint;
  /** Sectors of the base copied into this partition, from its start; null for new partitions. */
  readonly source: { readonly firstLba: number; readonly lastLba: number } | null;
}

/** Everything the executor needs to write one node's image; computed without I/O. */
export interface ImagePlan {
  readonly sizeBytes: number;
  readonly diskGuid: string;
  readonly partitions: readonly ImagePartition[];
  /** Base bytes between the partition table and the first partition to keep (U-Boot on boards without SPI). */
  readonly bootArea: { readonly fromByte: number; readonly toByte: number } | null;
  /** Copy the base's MBR boot code (GRUB's boot.img, which points at core.img in the kept BIOS boot partition). */
  readonly keepBootCode: boolean;
  readonly cidata: { readonly offsetBytes: number; readonly sizeBytes: number; readonly volumeId: string };
  readonly root: { readonly offsetBytes: number; readonly sizeBytes: number; readonly fs: 'ext4' | 'ext2' };
  /**
   * Files deleted from root, files left empty (machine-id(5): an empty file is regenerated at first
   * boot), and files and links added (a generic image's seed configuration, plan/generic.ts).
   */
  readonly edits: { readonly remove: readonly string[]; readonly empty: readonly string[]; readonly write: readonly RootFile[]; readonly link: readonly RootLink[] };
}

const alignUp = (lba: number): number => Math.ceil(lba / ALIGN) * ALIGN;

/** Find each declared role's partition in the base by label, partlabel, type and file system; never by number. */
export function matchRoles(base: BaseLayout, spec: Profile['base']['partitions'], path: string): Map<Role, BasePartition> {
  const out = new Map<Role, BasePartition>();
  for (const [role, want] of Object.entries(spec) as [Role, NonNullable<(typeof spec)[keyof typeof spec]>][]) {
    if (!want) continue;
    const hits = base.partitions.filter((p) => (!want.label || p.label === want.label) && (!want.partlabel || p.partlabel === want.partlabel)
      && (!want.type || p.type.toUpperCase() === want.type.toUpperCase()) && (want.fs === 'none' || p.fs === want.fs));
    const what = [want.label && `label ${want.label}`, want.partlabel && `partlabel ${want.partlabel}`, want.type && `type ${want.type}`, want.fs !== 'none' && want.fs].filter(Boolean).join(', ');
    if (hits.length !== 1) throw imgforgeError('BaseInvalid', { path, detail: `expected one ${role} partition (${what}), found ${hits.length}` });
    out.set(role, hits[0]!);
  }
  return out;
}

function mbrTypeToGuid(type: string, fs: string): string {
  if (type === '0xef') return TYPE.esp;
  if (['0x0b', '0x0c', '0x0e', '0x06'].includes(type) || fs === 'vfat') return TYPE.basicData;
  return TYPE.linux;
}

/**
 * Lay out one node's image. Base partitions before root keep their exact place (boot
 * firmware and GRUB find them there), or move up together past the profile's first sector; the
 * seed partition follows them; root moves after it,
 * stays last and so can grow. When the disk size is known, root gets its declared size and the
 * reserved partitions are written directly, as the first-boot layout step would create them.
 */
export function planImage(args: {
  readonly cluster: string; readonly node: string; readonly basePath: string;
  readonly base: BaseLayout; readonly profile: Profile;
  /** The target disk's size when the image is to carry the final table (build --disk-size); null for a compact image. */
  readonly diskBytes: number | null;
  /** Sizes of the profile's bootloader blobs, in the profile's order. */
  readonly blobBytes?: readonly number[];
}): ImagePlan {
  const { cluster, node, base, profile } = args;
  const layout = planLayout(profile.layout, args.diskBytes);
  const roles = matchRoles(base, profile.base.partitions, args.basePath);
  const root = roles.get('root')!;
  const others = base.partitions.filter((p) => p !== root);
  if (others.some((p) => p.firstLba > root.firstLba)) {
    throw imgforgeError('BaseInvalid', { path: args.basePath, detail: 'root is not the last partition, so it could not grow' });
  }
  const roleOf = (p: BasePartition): Role => [...roles].find(([, q]) => q === p)?.[0] ?? 'other';
  const guid = (...parts: string[]): string => deriveGuid(cluster, node, ...parts);
  const fromBase = (p: BasePartition, firstLba: number, lastLba: number): ImagePartition => ({
    number: p.number, role: roleOf(p), firstLba, lastLba,
    // GPT names are kept as the base has them; partitions that came from an MBR get their role.
    name: base.table === 'gpt' ? p.partlabel : roleOf(p),
    typeGuid: base.table === 'gpt' ? p.type : mbrTypeToGuid(p.type, p.fs),
    uniqueGuid: p.uniqueGuid ?? guid('partition', String(p.number)),
    attributes: base.table === 'gpt' ? p.attributes : p.number === 1 ? LEGACY_BOOTABLE : 0n,
    source: { firstLba: p.firstLba, lastLba: p.lastLba },
  });
  const used = new Set(base.partitions.map((p) => p.number));
  const nextNumber = (): number => nextFree(used);

  // The base's partitions before root move up together when they start below the profile's first
  // sector: Rockchip's u-boot-rockchip.bin at 32 KiB reaches past 8 MiB, where Ubuntu's arm64 image
  // has its ESP at 1 MiB. A BIOS boot partition stays: sector 0's code finds GRUB's core by number.
  const lowest = Math.min(...others.map((p) => p.firstLba));
  const shift = others.length > 0 && lowest < profile.boot.firstSector && !roles.has('biosBoot') ? alignUp(profile.boot.firstSector - lowest) : 0;
  const start = alignUp(Math.max(profile.boot.firstSector, gptHeadSectors(), ...others.map((p) => p.lastLba + shift + 1)));
  const cidataFirst = start, cidataLast = start + CIDATA_BYTES / SECTOR_BYTES - 1;
  const rootFirst = alignUp(cidataLast + 1);
  const rootBaseSectors = root.lastLba - root.firstLba + 1;
  const disk = layout.diskBytes === null ? null : Math.floor(layout.diskBytes / SECTOR_BYTES);
  const partitions: ImagePartition[] = others.map((p) => fromBase(p, p.firstLba + shift, p.lastLba + shift));
  partitions.push({ number: nextNumber(), role: 'cidata', name: 'cidata', typeGuid: TYPE.basicData, uniqueGuid: guid('partition', 'cidata'),
    firstLba: cidataFirst, lastLba: cidataLast, attributes: 0n, source: null });

  partitions.push(fromBase(root, rootFirst, rootFirst + rootBaseSectors - 1));
  if (disk !== null) {
    const laid = layOnDisk({ cluster, node, layout: profile.layout, partitions, diskBytes: layout.diskBytes!, rootMinSectors: rootBaseSectors });
    if (typeof laid === 'string') throw imgforgeError('BaseInvalid', { path: args.basePath, detail: laid });
    partitions.splice(0, partitions.length, ...laid);
  }
  const rootLast = partitions.find((p) => p.role === 'root')!.lastLba;
  const sizeSectors = disk ?? alignUp(rootLast + 1 + gptTailSectors());
  const firstPartition = Math.min(...partitions.map((p) => p.firstLba));
  // Blobs go between the primary GPT (sectors 0-33) and the first partition, e.g. Rockchip's
  // u-boot-rockchip.bin at 32 KiB (armbian odroidm1.conf: dd bs=32k seek=1).
  profile.boot.blobs.forEach((b, i) => {
    const end = b.offsetBytes + (args.blobBytes?.[i] ?? 0);
    if (b.offsetBytes < gptHeadSectors() * SECTOR_BYTES || end > firstPartition * SECTOR_BYTES) {
      throw imgforgeError('BaseInvalid', { path: b.file, detail: `a blob at bytes ${b.offsetBytes}-${end} would overlap the GPT or the first partition (sector ${firstPartition})` });
    }
  });
  const bootAreaEnd = Math.min(firstPartition, ...base.partitions.map((p) => p.firstLba));
  const volumeId = createHash('sha256').update(`${cluster}\0${node}\0cidata`).digest('hex').slice(0, 8);
  return {
    sizeBytes: sizeSectors * SECTOR_BYTES,
    diskGuid: guid('disk'),
    partitions: partitions.sort((a, b) => a.firstLba - b.firstLba),
    // Sectors 0-33 hold the new GPT; what the base kept after them (idbloader at sector 64) is
    // copied as it was, up to the first partition of the base or of the image, whichever is first:
    // never a partition's bytes.
    bootArea: profile.boot.keepBootArea && bootAreaEnd > gptHeadSectors() ? { fromByte: gptHeadSectors() * SECTOR_BYTES, toByte: bootAreaEnd * SECTOR_BYTES } : null,
    // Legacy BIOS runs sector 0's code, which loads GRUB's core from the BIOS boot partition by
    // sector number: that partition stays in place, so the base's code stays valid.
    keepBootCode: roles.has('biosBoot'),
    cidata: { offsetBytes: cidataFirst * SECTOR_BYTES, sizeBytes: CIDATA_BYTES, volumeId },
    root: { offsetBytes: rootFirst * SECTOR_BYTES, sizeBytes: (rootLast - rootFirst + 1) * SECTOR_BYTES, fs: root.fs === 'ext2' ? 'ext2' : 'ext4' },
    edits: { remove: profile.base.quirks.removeFiles, empty: ['/etc/machine-id'], write: [], link: [] },
  };
}

const nextFree = (used: Set<number>): number => { let n = 1; while (used.has(n)) n++; used.add(n); return n; };

/**
 * A compact image's table laid out on a disk of diskBytes: root grows to its declared end and the
 * reserved partitions follow it with the pending type, as the first-boot layout stage creates them.
 * What build --disk-size writes and what flash writes for the drive it finds; the partitions before
 * root keep their place. A problem, as a sentence, when the layout does not fit.
 */
export function layOnDisk(args: {
  readonly cluster: string; readonly node: string; readonly layout: Layout;
  /** The compact table: root last, no reserved partitions (any there are placed again). */
  readonly partitions: readonly ImagePartition[];
  readonly diskBytes: number;
  /** Sectors root's file system takes: root may not end before it. */
  readonly rootMinSectors: number;
}): ImagePartition[] | string {
  const root = args.partitions.find((p) => p.role === 'root');
  if (!root) return 'the image has no root partition';
  const kept = args.partitions.filter((p) => p.role !== 'root' && p.role !== 'reserved');
  const placed = placePartitions(planLayout(args.layout, args.diskBytes), root.firstLba, Math.floor(args.diskBytes / SECTOR_BYTES));
  if (typeof placed === 'string') return `on a ${args.diskBytes}-byte disk ${placed}`;
  const used = new Set([...kept, root].map((p) => p.number));
  const out: ImagePartition[] = [...kept];
  for (const p of placed) {
    if (p.role === 'root') {
      if (p.lastLba - p.firstLba + 1 < args.rootMinSectors) return `root's declared size is smaller than the base's root file system`;
      out.push({ ...root, lastLba: p.lastLba });
    } else {
      out.push({ number: nextFree(used), role: 'reserved', name: p.name, typeGuid: PENDING_TYPE, uniqueGuid: deriveGuid(args.cluster, args.node, 'partition', p.name),
        firstLba: p.firstLba, lastLba: p.lastLba, attributes: 0n, source: null });
    }
  }
  return out.sort((a, b) => a.firstLba - b.firstLba);
}

/** The image as plan and manifest print it: every partition with its sectors, bytes and GUIDs. */
export function describeImage(image: ImagePlan): ImageTable {
  return {
    sizeBytes: image.sizeBytes,
    diskGuid: image.diskGuid,
    partitions: image.partitions.map((p) => ({
      number: p.number, role: p.role, name: p.name, type: p.typeGuid, guid: p.uniqueGuid, firstLba: p.firstLba, lastLba: p.lastLba,
      offsetBytes: p.firstLba * SECTOR_BYTES, bytes: (p.lastLba - p.firstLba + 1) * SECTOR_BYTES, attributes: `0x${p.attributes.toString(16).padStart(16, '0')}`,
    })),
    keepBootArea: image.bootArea,
    keepBootCode: image.keepBootCode,
    edits: {
      ...image.edits,
      // Files added show their digest, not their text: the plan stays one screen.
      write: image.edits.write.map((f) => ({ path: f.path, mode: `0${f.mode.toString(8)}`, sha256: createHash('sha256').update(f.content).digest('hex') })),
    },
  };
}

export interface ImageTable {
  readonly sizeBytes: number;
  readonly diskGuid: string;
  readonly partitions: readonly {
    readonly number: number; readonly role: Role; readonly name: string; readonly type: string; readonly guid: string;
    readonly firstLba: number; readonly lastLba: number; readonly offsetBytes: number; readonly bytes: number; readonly attributes: string;
  }[];
  readonly keepBootArea: ImagePlan['bootArea'];
  readonly keepBootCode: boolean;
  readonly edits: Omit<ImagePlan['edits'], 'write'> & { readonly write: readonly { readonly path: string; readonly mode: string; readonly sha256: string }[] };
}
