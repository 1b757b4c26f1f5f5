import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { imgforgeError } from '../errors/error.ts';
import { decodeGpt } from './gpt.ts';
import { decodeMbr, SECTOR_BYTES } from './mbr.ts';

export type FsKind = 'ext4' | 'ext2' | 'vfat' | 'none';

/** A partition of a base image, as found on disk. */
export interface BasePartition {
  readonly number: number;
  readonly firstLba: number;
  readonly lastLba: number;
  /** GPT type GUID, or the MBR type as "0x83". */
  readonly type: string;
  /** GPT partition GUID (PARTUUID); null on MBR. */
  readonly uniqueGuid: string | null;
  /** GPT partition name; "" on MBR. */
  readonly partlabel: string;
  readonly attributes: bigint;
  readonly fs: FsKind;
  /** File system label, "" when none. */
  readonly label: string;
}

export interface BaseLayout {
  readonly table: 'gpt' | 'mbr';
  readonly sizeBytes: number;
  readonly partitions: readonly BasePartition[];
}

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, offset);
  return n === length ? buf : buf.subarray(0, n);
}

const cstr = (b: Buffer): string => b.toString('latin1').replace(/\0.*$/s, '').trim();

/**
 * The file system a partition starts with, from its superblock: ext2/3/4 magic 0xEF53 at byte
 * 1080 with the label at 1144 and features deciding ext2 vs ext4 (e2fsprogs lib/ext2fs/ext2_fs.h);
 * FAT's boot sector signature with its label at byte 43 (FAT12/16) or 71 (FAT32) (Microsoft FAT spec).
 */
function probeFs(fd: number, offset: number): { fs: FsKind; label: string } {
  const sb = readAt(fd, offset + 1024, 1024);
  if (sb.length >= 1024 && sb.readUInt16LE(56) === 0xef53) {
    const incompat = sb.readUInt32LE(96);
    const hasJournal = (sb.readUInt32LE(92) & 0x4) !== 0;
    const extents = (incompat & 0x40) !== 0;
    return { fs: hasJournal || extents ? 'ext4' : 'ext2', label: cstr(sb.subarray(120, 136)) };
  }
  const boot = readAt(fd, offset, 512);
  if (boot.length === 512 && boot.readUInt16LE(510) === 0xaa55) {
    if (boot.toString('latin1', 82, 87) === 'FAT32') return { fs: 'vfat', label: cstr(boot.subarray(71, 82)).replace(/^NO NAME$/, '') };
    if (boot.toString('latin1', 54, 57) === 'FAT') return { fs: 'vfat', label: cstr(boot.subarray(43, 54)).replace(/^NO NAME$/, '') };
  }
  return { fs: 'none', label: '' };
}

/** Read a base image's (or a drive's) partition table (GPT, or MBR for vendor SBC images) and what each partition holds. */
export function probeBase(path: string, size?: number): BaseLayout {
  const fd = openSync(path, 'r');
  try {
    // A block device's fstat size is 0: its caller passes the size sysfs gives.
    const sizeBytes = size ?? fstatSync(fd).size;
    const mbr = decodeMbr(readAt(fd, 0, SECTOR_BYTES));
    if (!mbr) throw imgforgeError('BaseInvalid', { path, detail: 'it has no partition table (no MBR boot signature in sector 0)' });
    let table: 'gpt' | 'mbr';
    let raw: Omit<BasePartition, 'fs' | 'label'>[];
    if (mbr.protective) {
      let gpt;
      try {
        gpt = decodeGpt((o, l) => readAt(fd, o, l), sizeBytes);
      } catch (e) {
        throw imgforgeError('BaseInvalid', { path, detail: `its GPT is unreadable: ${(e as Error).message}` }, { cause: e });
      }
      table = 'gpt';
      raw = gpt.partitions.map((p) => ({ number: p.number, firstLba: p.firstLba, lastLba: p.lastLba, type: p.typeGuid, uniqueGuid: p.uniqueGuid, partlabel: p.name, attributes: p.attributes }));
    } else {
      table = 'mbr';
      raw = mbr.partitions.map((p) => ({
        number: p.number, firstLba: p.firstLba, lastLba: p.firstLba + p.sectors - 1,
        type: `0x${p.type.toString(16).padStart(2, '0')}`, uniqueGuid: null, partlabel: '', attributes: 0n,
      }));
    }
    if (raw.length === 0) throw imgforgeError('BaseInvalid', { path, detail: 'its partition table lists no partitions' });
    const partitions = raw.map((p) => {
      if ((p.lastLba + 1) * SECTOR_BYTES > sizeBytes) {
        throw imgforgeError('BaseInvalid', { path, detail: `partition ${p.number} ends at byte ${(p.lastLba + 1) * SECTOR_BYTES}, past the end of the ${sizeBytes}-byte file (truncated?)` });
      }
      return { ...p, ...probeFs(fd, p.firstLba * SECTOR_BYTES) };
    });
    return { table, sizeBytes, partitions: partitions.sort((a, b) => a.firstLba - b.firstLba) };
  } finally {
    closeSync(fd);
  }
}
