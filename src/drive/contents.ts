/**
 * What a drive (or a file standing for one) holds now: its partition table, read with imgforge's
 * own decoders, and the signatures libblkid finds on the whole drive and at each partition's start.
 * Read only; the planner decides whether any of it needs --wipe and what stale metadata to zero.
 */
import { open } from 'node:fs/promises';
import { decodeGpt } from '../image/gpt.ts';
import { decodeMbr, SECTOR_BYTES } from '../image/mbr.ts';

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
  // Loaded here, not with the module: a flash to a new file probes nothing, and the tool runner's
  // library (execa) is about 60 ms of start-up it would otherwise wait for.
  const { blkidProbe } = await import('../tools/blkid.ts');
  if (sizeBytes < SECTOR_BYTES * 2) return { table: 'none', partitions: [], backupGptLba: null, signatures: [] };
  // blkid runs while the table is read, and once per partition all at once: on a slow drive each
  // probe waits on reads, and the flash waits on the probes before it writes.
  const whole = blkidProbe(path);
  whole.catch(() => { /* awaited below */ });
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
    // The MBR, and the GPT header and entry array where they almost always are (sectors 1-33).
    const small = await readAt(0, Math.min(sizeBytes, 34 * SECTOR_BYTES));
    const mbr = decodeMbr(small.subarray(0, SECTOR_BYTES));
    if (mbr?.protective) {
      // decodeGpt reads synchronously: hand it those sectors, else the first 4 MiB, which hold any
      // real entry array (reading 4 MiB each time cost a slow card a few hundredths of a second).
      const decode = (head: Buffer): ReturnType<typeof decodeGpt> => decodeGpt((o, l) => head.subarray(o, o + l), sizeBytes - (sizeBytes % SECTOR_BYTES));
      try {
        let gpt;
        try { gpt = decode(small); } catch { gpt = decode(await readAt(0, Math.min(sizeBytes, 4 * 2 ** 20))); }
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
  const probes = partitions.flatMap((p) => {
    const offset = p.firstLba * SECTOR_BYTES, size = (p.lastLba - p.firstLba + 1) * SECTOR_BYTES;
    return offset + size > sizeBytes || size <= 0 ? [] : [{ where: `partition ${p.number}`, offset, found: blkidProbe(path, offset, size) }];
  });
  const found = await Promise.all([whole, ...probes.map((p) => p.found)]);
  const signatures: Signature[] = [{ where: 'drive', offset: 0 }, ...probes].flatMap((p, i) => {
    const f = found[i];
    return f?.['TYPE'] ? [{ where: p.where, offsetBytes: p.offset, type: f['TYPE'], label: f['LABEL'] ?? '' }] : [];
  });
  return { table, partitions, backupGptLba, signatures };
}
