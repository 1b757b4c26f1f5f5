/**
 * What a drive (or a file standing for one) holds now: its partition table, read with imgforge's
 * own decoders, and the signatures libblkid finds on the whole drive and at each partition's start.
 * Read only; the planner decides whether any of it needs --wipe and what stale metadata to zero.
 */
import { open } from 'node:fs/promises';
import { decodeGpt } from '../image/gpt.ts';
import { decodeMbr, SECTOR_BYTES } from '../image/mbr.ts';
import { blkidProbe } from '../tools/blkid.ts';

export interface OldPartition {
  readonly number: number;
  readonly firstLba: number;
  readonly lastLba: number;
  readonly name: string;
}

export interface Signature {
  /** "drive", or "partition N" of the current table. */
  readonly where: string;
  readonly offsetBytes: number;
  /** libblkid's TYPE (ext4, LVM2_member, ceph_bluestore, zfs_member, ...) or PTTYPE (gpt, dos). */
  readonly type: string;
  readonly label: string;
}

export interface DriveContents {
  readonly table: 'gpt' | 'mbr' | 'none';
  readonly partitions: readonly OldPartition[];
  /** Where the current primary GPT header says its backup lies: a copy written for a smaller image leaves it mid-drive. */
  readonly backupGptLba: number | null;
  readonly signatures: readonly Signature[];
}

/** Read the table and probe signatures on path, sizeBytes long. */
export async function readContents(path: string, sizeBytes: number): Promise<DriveContents> {
  if (sizeBytes < SECTOR_BYTES * 2) return { table: 'none', partitions: [], backupGptLba: null, signatures: [] };
  const fd = await open(path, 'r');
  let table: DriveContents['table'] = 'none';
  let partitions: OldPartition[] = [];
  let backupGptLba: number | null = null;
  try {
    const readAt = async (offset: number, length: number): Promise<Buffer> => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fd.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    };
    const mbr = decodeMbr(await readAt(0, SECTOR_BYTES));
    if (mbr?.protective) {
      // decodeGpt reads synchronously: hand it the first 4 MiB, which holds any real entry array.
      const head = await readAt(0, Math.min(sizeBytes, 4 * 2 ** 20));
      try {
        const gpt = decodeGpt((o, l) => head.subarray(o, o + l), sizeBytes - (sizeBytes % SECTOR_BYTES));
        table = 'gpt';
        partitions = gpt.partitions.map((p) => ({ number: p.number, firstLba: p.firstLba, lastLba: p.lastLba, name: p.name }));
        backupGptLba = gpt.alternateLba;
      } catch {
        table = 'gpt'; // a damaged primary: nothing to list, but the drive is not blank
      }
    } else if (mbr && mbr.partitions.length > 0) {
      table = 'mbr';
      partitions = mbr.partitions.map((p) => ({ number: p.number, firstLba: p.firstLba, lastLba: p.firstLba + p.sectors - 1, name: '' }));
    }
  } finally {
    await fd.close();
  }
  const signatures: Signature[] = [];
  const whole = await blkidProbe(path);
  if (whole?.['TYPE']) signatures.push({ where: 'drive', offsetBytes: 0, type: whole['TYPE'], label: whole['LABEL'] ?? '' });
  for (const p of partitions) {
    const offset = p.firstLba * SECTOR_BYTES, size = (p.lastLba - p.firstLba + 1) * SECTOR_BYTES;
    if (offset + size > sizeBytes || size <= 0) continue;
    const found = await blkidProbe(path, offset, size);
    if (found?.['TYPE']) signatures.push({ where: `partition ${p.number}`, offsetBytes: offset, type: found['TYPE'], label: found['LABEL'] ?? '' });
  }
  return { table, partitions, backupGptLba, signatures };
}
