/**
 * Read a GPT back from a disk image (UEFI 2.10 §5.3.2 validity checks on the primary header),
 * e.g. to find the partitions of an Ubuntu cloud image before editing it.
 */
import { crc32 } from 'node:zlib';
import { SECTOR_BYTES } from './mbr.ts';
import { GUID_BYTES, ZERO_GUID, decodeGuid } from './guid.ts';
import { ENTRY, GPT_ENTRY_BYTES, GPT_SIGNATURE, HEADER, HEADER_BYTES, type DecodedGpt, type GptPartition } from './gpt-format.ts';

/** Refuse entry arrays beyond this; real ones are 16 KiB, and a corrupt count must not allocate gigabytes. */
const MAX_ENTRY_ARRAY_BYTES = 4 * 1024 * 1024;

type Read = (offsetBytes: number, length: number) => Buffer;

function readExact(read: Read, offsetBytes: number, length: number, what: string): Buffer {
  const buf = read(offsetBytes, length);
  if (buf.length !== length) throw new Error(`short read of the ${what}: wanted ${length} bytes at offset ${offsetBytes}, got ${buf.length}`);
  return buf;
}

function readLba(buf: Buffer, at: number, what: string): number {
  const value = buf.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`GPT ${what} ${value} is not a plausible sector number`);
  return Number(value);
}

const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

function decodeEntry(entry: Buffer, number: number): GptPartition | undefined {
  const typeGuid = decodeGuid(entry.subarray(ENTRY.typeGuid, ENTRY.typeGuid + GUID_BYTES));
  if (typeGuid === ZERO_GUID) return undefined;
  const name = entry.subarray(ENTRY.name, GPT_ENTRY_BYTES).toString('utf16le');
  const nul = name.indexOf('\0');
  return {
    number,
    typeGuid,
    uniqueGuid: decodeGuid(entry.subarray(ENTRY.uniqueGuid, ENTRY.uniqueGuid + GUID_BYTES)),
    firstLba: readLba(entry, ENTRY.firstLba, `partition ${number} first sector`),
    lastLba: readLba(entry, ENTRY.lastLba, `partition ${number} last sector`),
    attributes: entry.readBigUInt64LE(ENTRY.attributes),
    name: nul === -1 ? name : name.slice(0, nul),
  };
}

/**
 * Decode the primary GPT of a disk of diskBytes bytes, reading through read(). Throws a plain Error
 * when the signature, the header CRC32 or the entry array CRC32 is wrong. Only used slots (non-zero
 * type GUID) are returned, keeping their slot numbers.
 */
export function decodeGpt(read: Read, diskBytes: number): DecodedGpt {
  if (!Number.isSafeInteger(diskBytes) || diskBytes <= 0 || diskBytes % SECTOR_BYTES !== 0) {
    throw new Error(`a disk of ${diskBytes} bytes is not a whole number of ${SECTOR_BYTES}-byte sectors`);
  }
  const diskSectors = diskBytes / SECTOR_BYTES;
  const header = readExact(read, SECTOR_BYTES, SECTOR_BYTES, 'GPT header');
  if (header.toString('latin1', HEADER.signature, HEADER.signature + GPT_SIGNATURE.length) !== GPT_SIGNATURE) {
    throw new Error(`no GPT: sector 1 does not start with the signature "${GPT_SIGNATURE}"`);
  }
  const headerSize = header.readUInt32LE(HEADER.headerSize);
  if (headerSize < HEADER_BYTES || headerSize > SECTOR_BYTES) throw new Error(`GPT header size ${headerSize} is outside ${HEADER_BYTES}-${SECTOR_BYTES} bytes`);
  const storedHeaderCrc = header.readUInt32LE(HEADER.headerCrc);
  const zeroed = Buffer.from(header.subarray(0, headerSize));
  zeroed.writeUInt32LE(0, HEADER.headerCrc);
  if (crc32(zeroed) !== storedHeaderCrc) throw new Error(`GPT header CRC32 mismatch: stored ${hex32(storedHeaderCrc)}, computed ${hex32(crc32(zeroed))}`);
  if (readLba(header, HEADER.myLba, 'header location') !== 1) throw new Error('the GPT header in sector 1 says it lives elsewhere');

  const entriesLba = readLba(header, HEADER.entriesLba, 'entry array location');
  const entryCount = header.readUInt32LE(HEADER.entryCount);
  const entryBytes = header.readUInt32LE(HEADER.entryBytes);
  // §5.3.2: SizeOfPartitionEntry is 128 × 2^n; the bytes past the first 128 are reserved.
  if (entryBytes < GPT_ENTRY_BYTES || (entryBytes & (entryBytes - 1)) !== 0) {
    throw new Error(`GPT entry size ${entryBytes} is not 128 × 2^n bytes`);
  }
  const arrayBytes = entryCount * entryBytes;
  if (arrayBytes > MAX_ENTRY_ARRAY_BYTES || entriesLba < 2 || entriesLba * SECTOR_BYTES + arrayBytes > diskBytes) {
    throw new Error(`GPT entry array (${entryCount} × ${entryBytes} bytes at sector ${entriesLba}) does not fit the disk`);
  }
  const entries = readExact(read, entriesLba * SECTOR_BYTES, arrayBytes, 'GPT entry array');
  const storedEntriesCrc = header.readUInt32LE(HEADER.entriesCrc);
  if (crc32(entries) !== storedEntriesCrc) throw new Error(`GPT entry array CRC32 mismatch: stored ${hex32(storedEntriesCrc)}, computed ${hex32(crc32(entries))}`);

  const partitions: GptPartition[] = [];
  for (let i = 0; i < entryCount; i++) {
    const p = decodeEntry(entries.subarray(i * entryBytes, i * entryBytes + GPT_ENTRY_BYTES), i + 1);
    if (p) partitions.push(p);
  }
  return {
    diskSectors,
    diskGuid: decodeGuid(header.subarray(HEADER.diskGuid, HEADER.diskGuid + GUID_BYTES)),
    partitions,
    entryCount,
    firstUsableLba: readLba(header, HEADER.firstUsableLba, 'first usable sector'),
    lastUsableLba: readLba(header, HEADER.lastUsableLba, 'last usable sector'),
    alternateLba: readLba(header, HEADER.alternateLba, 'backup header location'),
  };
}
