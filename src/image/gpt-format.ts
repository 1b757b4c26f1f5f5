/**
 * On-disk shape of a GPT (UEFI 2.10 §5.3) shared by the encoder and the decoder: field offsets,
 * the types both speak, and where the entry arrays and usable sectors fall on a disk.
 */
import { SECTOR_BYTES } from './mbr.ts';

export const GPT_SIGNATURE = 'EFI PART';
/** Revision 1.0, the only one defined (§5.3.2). */
export const GPT_REVISION_1_0 = 0x0001_0000;
/** HeaderSize: the fields up to PartitionEntryArrayCRC32; the rest of the sector is reserved zeros. */
export const HEADER_BYTES = 92;
export const GPT_ENTRY_BYTES = 128;
/** §5.3.1: at least 16,384 bytes are reserved for the entry array, i.e. 128 entries of 128 bytes. */
export const GPT_MIN_ENTRY_COUNT = 128;
/** PartitionName is 72 bytes of UTF-16LE (§5.3.3). */
export const NAME_MAX_CHARS = 36;

/** GPT header byte offsets (§5.3.2). */
export const HEADER = {
  signature: 0, revision: 8, headerSize: 12, headerCrc: 16, myLba: 24, alternateLba: 32,
  firstUsableLba: 40, lastUsableLba: 48, diskGuid: 56, entriesLba: 72, entryCount: 80, entryBytes: 84, entriesCrc: 88,
} as const;

/** Partition entry byte offsets (§5.3.3). */
export const ENTRY = { typeGuid: 0, uniqueGuid: 16, firstLba: 32, lastLba: 40, attributes: 48, name: 56 } as const;

export interface GptPartition {
  /** 1-based slot in the entry array; Linux names the partition after it (sda15, nvme0n1p15). */
  readonly number: number;
  readonly typeGuid: string;
  readonly uniqueGuid: string;
  /** First sector, inclusive. Sector counts stay below 2^53 for any real disk, so number is exact. */
  readonly firstLba: number;
  /** Last sector, inclusive. */
  readonly lastLba: number;
  /** Bit 0 required, 1 no block-IO protocol, 2 legacy BIOS bootable, 48-63 type-specific (§5.3.3). */
  readonly attributes: bigint;
  /** At most 36 UTF-16 code units; shown by sgdisk as the name and by Linux as PARTLABEL. */
  readonly name: string;
}

export interface GptLayout {
  readonly diskSectors: number;
  readonly diskGuid: string;
  readonly partitions: readonly GptPartition[];
  /** Slots in the entry array, a multiple of 4 so they fill whole sectors. @default 128 */
  readonly entryCount?: number;
  /** Legacy-BIOS boot code for the protective MBR's first 440 bytes (GRUB's boot.img); zeros without it. */
  readonly bootCode?: Buffer;
}

export interface DecodedGpt extends GptLayout {
  readonly entryCount: number;
  readonly firstUsableLba: number;
  readonly lastUsableLba: number;
  /** Where the primary header puts the backup header: not diskSectors - 1 once the disk has grown. */
  readonly alternateLba: number;
}

export interface GptGeometry {
  readonly entrySectors: number;
  readonly firstUsableLba: number;
  readonly lastUsableLba: number;
  /** The backup entry array sits just before the backup header in the last sector. */
  readonly backupEntriesLba: number;
}

/** Sectors before the first usable one: the protective MBR, the primary header and its entry array (§5.3.1). */
export function gptHeadSectors(entryCount = GPT_MIN_ENTRY_COUNT): number {
  return 2 + (entryCount * GPT_ENTRY_BYTES) / SECTOR_BYTES;
}

/** Sectors the backup GPT takes at the disk's end: its entry array and its header (§5.3.2). */
export function gptTailSectors(entryCount = GPT_MIN_ENTRY_COUNT): number {
  return (entryCount * GPT_ENTRY_BYTES) / SECTOR_BYTES + 1;
}

/** Where everything goes on a disk of diskSectors 512-byte sectors; throws when it cannot fit. */
export function gptGeometry(diskSectors: number, entryCount = GPT_MIN_ENTRY_COUNT): GptGeometry {
  const perSector = SECTOR_BYTES / GPT_ENTRY_BYTES;
  if (!Number.isInteger(entryCount) || entryCount < GPT_MIN_ENTRY_COUNT || entryCount % perSector !== 0) {
    throw new Error(`a GPT entry array needs a multiple of ${perSector} entries, at least ${GPT_MIN_ENTRY_COUNT}; got ${entryCount}`);
  }
  const entrySectors = entryCount / perSector;
  const firstUsableLba = gptHeadSectors(entryCount);
  const lastUsableLba = diskSectors - 1 - gptTailSectors(entryCount);
  if (!Number.isSafeInteger(diskSectors) || lastUsableLba < firstUsableLba) {
    throw new Error(`a ${diskSectors}-sector disk is too small for a GPT with ${entryCount} entries`);
  }
  return { entrySectors, firstUsableLba, lastUsableLba, backupEntriesLba: lastUsableLba + 1 };
}
