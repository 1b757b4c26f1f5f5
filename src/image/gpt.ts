/**
 * GUID Partition Table encoder (UEFI 2.10 §5.3), 512-byte sectors only; the decoder is in
 * gpt-decode.ts and re-exported here.
 *
 * Disk map, in LBAs: 0 protective MBR, 1 primary header, 2… entry array, then the usable area,
 * then the backup entry array, and the backup header in the very last sector (§5.3.1).
 */
import { crc32 } from 'node:zlib';
import { SECTOR_BYTES, encodeProtectiveMbr } from './mbr.ts';
import { ZERO_GUID, encodeGuid, normalizeGuid } from './guid.ts';
import {
  ENTRY, GPT_ENTRY_BYTES, GPT_MIN_ENTRY_COUNT, GPT_REVISION_1_0, GPT_SIGNATURE, HEADER, HEADER_BYTES, NAME_MAX_CHARS,
  gptGeometry, type GptLayout, type GptPartition,
} from './gpt-format.ts';

export { SECTOR_BYTES } from './mbr.ts';
export { GPT_ENTRY_BYTES, GPT_MIN_ENTRY_COUNT, gptGeometry, type DecodedGpt, type GptGeometry, type GptLayout, type GptPartition } from './gpt-format.ts';
export { decodeGpt } from './gpt-decode.ts';

export interface EncodedGpt {
  /** LBA 0 to the end of the primary entry array: write it at byte 0. */
  readonly primary: Buffer;
  /** Backup entry array then backup header: write it at backupOffsetBytes, so it ends at the disk's end. */
  readonly backup: Buffer;
  readonly backupOffsetBytes: number;
}

function describe(p: GptPartition): string {
  return `GPT partition ${p.number}${p.name ? ` "${p.name}"` : ''} (sectors ${p.firstLba}-${p.lastLba})`;
}

function guid(text: string, what: string): string {
  try {
    return normalizeGuid(text);
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  }
}

function validate(layout: GptLayout, entryCount: number, first: number, last: number): void {
  if (guid(layout.diskGuid, 'GPT disk GUID') === ZERO_GUID) throw new Error('the GPT disk GUID must not be all zeros');
  const slots = new Set<number>();
  const uniqueGuids = new Set<string>();
  for (const p of layout.partitions) {
    if (!Number.isInteger(p.number) || p.number < 1 || p.number > entryCount) throw new Error(`GPT partition number ${p.number} is outside the entry array's slots 1-${entryCount}`);
    if (slots.has(p.number)) throw new Error(`GPT partition number ${p.number} is used twice`);
    slots.add(p.number);
    if (guid(p.typeGuid, `${describe(p)} type GUID`) === ZERO_GUID) throw new Error(`${describe(p)} has the all-zero type GUID, which marks an unused entry`);
    const unique = guid(p.uniqueGuid, `${describe(p)} unique GUID`);
    if (unique === ZERO_GUID || uniqueGuids.has(unique)) throw new Error(`${describe(p)} needs a unique GUID of its own, not ${unique}`);
    uniqueGuids.add(unique);
    if (!Number.isSafeInteger(p.firstLba) || !Number.isSafeInteger(p.lastLba) || p.firstLba > p.lastLba) throw new Error(`${describe(p)}: the first sector must be a whole number no greater than the last`);
    if (p.firstLba < first || p.lastLba > last) throw new Error(`${describe(p)} lies outside the usable sectors ${first}-${last} of a ${layout.diskSectors}-sector disk`);
    if (p.attributes < 0n || p.attributes >= 1n << 64n) throw new Error(`${describe(p)}: attributes must fit in 64 bits`);
    if (p.name.length > NAME_MAX_CHARS || p.name.includes('\0')) throw new Error(`${describe(p)}: the name must be at most ${NAME_MAX_CHARS} UTF-16 code units, without NUL`);
  }
  const sorted = [...layout.partitions].sort((a, b) => a.firstLba - b.firstLba);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.firstLba <= sorted[i - 1]!.lastLba) throw new Error(`${describe(sorted[i]!)} overlaps ${describe(sorted[i - 1]!)}`);
  }
}

/** The partition entry array (§5.3.3); unused slots stay all zero. */
function encodeEntries(partitions: readonly GptPartition[], entryCount: number): Buffer {
  const entries = Buffer.alloc(entryCount * GPT_ENTRY_BYTES);
  for (const p of partitions) {
    const at = (p.number - 1) * GPT_ENTRY_BYTES;
    encodeGuid(p.typeGuid).copy(entries, at + ENTRY.typeGuid);
    encodeGuid(p.uniqueGuid).copy(entries, at + ENTRY.uniqueGuid);
    entries.writeBigUInt64LE(BigInt(p.firstLba), at + ENTRY.firstLba);
    entries.writeBigUInt64LE(BigInt(p.lastLba), at + ENTRY.lastLba);
    entries.writeBigUInt64LE(p.attributes, at + ENTRY.attributes);
    entries.write(p.name, at + ENTRY.name, 'utf16le');
  }
  return entries;
}

interface HeaderFields {
  myLba: number; alternateLba: number; firstUsableLba: number; lastUsableLba: number;
  diskGuid: string; entriesLba: number; entryCount: number; entriesCrc: number;
}

/** One header sector (§5.3.2); its CRC32 covers HeaderSize bytes with the CRC field zeroed. */
function encodeHeader(h: HeaderFields): Buffer {
  const sector = Buffer.alloc(SECTOR_BYTES);
  sector.write(GPT_SIGNATURE, HEADER.signature, 'latin1');
  sector.writeUInt32LE(GPT_REVISION_1_0, HEADER.revision);
  sector.writeUInt32LE(HEADER_BYTES, HEADER.headerSize);
  sector.writeBigUInt64LE(BigInt(h.myLba), HEADER.myLba);
  sector.writeBigUInt64LE(BigInt(h.alternateLba), HEADER.alternateLba);
  sector.writeBigUInt64LE(BigInt(h.firstUsableLba), HEADER.firstUsableLba);
  sector.writeBigUInt64LE(BigInt(h.lastUsableLba), HEADER.lastUsableLba);
  encodeGuid(h.diskGuid).copy(sector, HEADER.diskGuid);
  sector.writeBigUInt64LE(BigInt(h.entriesLba), HEADER.entriesLba);
  sector.writeUInt32LE(h.entryCount, HEADER.entryCount);
  sector.writeUInt32LE(GPT_ENTRY_BYTES, HEADER.entryBytes);
  sector.writeUInt32LE(h.entriesCrc, HEADER.entriesCrc);
  sector.writeUInt32LE(crc32(sector.subarray(0, HEADER_BYTES)), HEADER.headerCrc);
  return sector;
}

/** Both copies of the GPT plus the protective MBR. Throws a plain Error on an invalid layout. */
export function encodeGpt(layout: GptLayout): EncodedGpt {
  const entryCount = layout.entryCount ?? GPT_MIN_ENTRY_COUNT;
  const geo = gptGeometry(layout.diskSectors, entryCount);
  validate(layout, entryCount, geo.firstUsableLba, geo.lastUsableLba);
  const entries = encodeEntries(layout.partitions, entryCount);
  const shared = {
    firstUsableLba: geo.firstUsableLba, lastUsableLba: geo.lastUsableLba, diskGuid: layout.diskGuid, entryCount, entriesCrc: crc32(entries),
  };
  const lastLba = layout.diskSectors - 1;
  const primaryHeader = encodeHeader({ ...shared, myLba: 1, alternateLba: lastLba, entriesLba: 2 });
  const backupHeader = encodeHeader({ ...shared, myLba: lastLba, alternateLba: 1, entriesLba: geo.backupEntriesLba });
  return {
    primary: Buffer.concat([encodeProtectiveMbr(layout.diskSectors, layout.bootCode), primaryHeader, entries]),
    backup: Buffer.concat([entries, backupHeader]),
    backupOffsetBytes: geo.backupEntriesLba * SECTOR_BYTES,
  };
}

