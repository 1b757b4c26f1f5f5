/**
 * The legacy Master Boot Record in sector 0 (UEFI 2.10 §5.2.1): primary partitions only, and the
 * protective MBR that guards a GPT disk (§5.2.3).
 */

export const SECTOR_BYTES = 512;
const DISK_SIGNATURE_OFFSET_BYTES = 440;
const RECORDS_OFFSET_BYTES = 446;
const RECORD_BYTES = 16;
const RECORD_COUNT = 4;
const BOOT_SIGNATURE_OFFSET_BYTES = 510;
const BOOT_SIGNATURE = Buffer.from([0x55, 0xaa]);
const BOOTABLE = 0x80;
const MAX_U32 = 0xffff_ffff;
/** OSType of the single record of a protective MBR (§5.2.3). */
export const GPT_PROTECTIVE_TYPE = 0xee;

/*
 * CHS fields are dead on LBA-addressed disks (Linux reads only the LBA fields). Head 254, sector 63,
 * cylinder 1023 (bytes FE FF FF) is the conventional "beyond CHS, use the LBA fields" value.
 */
const CHS_USE_LBA = Buffer.from([0xfe, 0xff, 0xff]);
// §5.2.3: StartingCHS 0x000200 is LBA 1. For EndingCHS libfdisk (sfdisk) always writes
// 0xFFFFFF, the spec's "not representable" value; we do the same rather than invent a geometry.
const PMBR_START_CHS = Buffer.from([0x00, 0x02, 0x00]);
const PMBR_END_CHS = Buffer.from([0xff, 0xff, 0xff]);

export interface MbrPartition {
  /** Record slot, 1-4 (Linux names it sdX1-sdX4). */
  readonly number: number;
  /** OSType byte, e.g. 0x83 Linux, 0x0C FAT32 (LBA), 0xEF EFI system. */
  readonly type: number;
  readonly bootable: boolean;
  readonly firstLba: number;
  readonly sectors: number;
}

export interface MbrTable {
  /** UniqueMBRDiskSignature; Linux shows it as the PTUUID "1234abcd" and as PARTUUID "1234abcd-01". */
  readonly diskSignature: number;
  readonly partitions: readonly MbrPartition[];
}

export interface DecodedMbr extends MbrTable {
  /**
   * A 0xEE record is present: the disk is GPT and this MBR only protects it (§5.2.3); read the GPT.
   * A hybrid MBR has other records beside it, but its GPT is still the authoritative table.
   */
  readonly protective: boolean;
}

function writeRecord(sector: Buffer, slot: number, r: { bootable: boolean; type: number; firstLba: number; sectors: number }, startChs: Buffer, endChs: Buffer): void {
  const at = RECORDS_OFFSET_BYTES + (slot - 1) * RECORD_BYTES;
  sector[at] = r.bootable ? BOOTABLE : 0;
  startChs.copy(sector, at + 1);
  sector[at + 4] = r.type;
  endChs.copy(sector, at + 5);
  sector.writeUInt32LE(r.firstLba, at + 8);
  sector.writeUInt32LE(r.sectors, at + 12);
}

function blankSector(): Buffer {
  const sector = Buffer.alloc(SECTOR_BYTES);
  BOOT_SIGNATURE.copy(sector, BOOT_SIGNATURE_OFFSET_BYTES);
  return sector;
}

/** Sector 0 of a GPT disk: one 0xEE record covering the disk from LBA 1 (UEFI 2.10 §5.2.3). */
export function encodeProtectiveMbr(diskSectors: number, bootCode?: Buffer): Buffer {
  const sector = blankSector();
  if (bootCode) {
    if (bootCode.length > DISK_SIGNATURE_OFFSET_BYTES) throw new Error(`MBR boot code is ${bootCode.length} bytes; ${DISK_SIGNATURE_OFFSET_BYTES} fit before the disk signature`);
    bootCode.copy(sector, 0);
  }
  const sectors = Math.min(diskSectors - 1, MAX_U32);
  writeRecord(sector, 1, { bootable: false, type: GPT_PROTECTIVE_TYPE, firstLba: 1, sectors }, PMBR_START_CHS, PMBR_END_CHS);
  return sector;
}

function validate(t: MbrTable): void {
  if (!Number.isInteger(t.diskSignature) || t.diskSignature < 0 || t.diskSignature > MAX_U32) {
    throw new Error(`MBR disk signature ${t.diskSignature} is not a 32-bit unsigned integer`);
  }
  const seen = new Set<number>();
  for (const p of t.partitions) {
    const name = `MBR partition ${p.number}`;
    if (!Number.isInteger(p.number) || p.number < 1 || p.number > RECORD_COUNT) throw new Error(`${name}: only primary partitions 1-4 exist in an MBR`);
    if (seen.has(p.number)) throw new Error(`${name} is listed twice`);
    seen.add(p.number);
    if (!Number.isInteger(p.type) || p.type < 1 || p.type > 0xff) throw new Error(`${name}: type ${p.type} is not a byte from 0x01 to 0xFF (0 marks an empty record)`);
    if (!Number.isInteger(p.firstLba) || p.firstLba < 1) throw new Error(`${name}: first sector ${p.firstLba} must be 1 or later (sector 0 holds the MBR)`);
    if (!Number.isInteger(p.sectors) || p.sectors < 1) throw new Error(`${name}: size ${p.sectors} sectors must be at least 1`);
    if (p.firstLba + p.sectors - 1 > MAX_U32) throw new Error(`${name} ends past sector ${MAX_U32}, the limit of 32-bit MBR fields (2 TiB); use GPT`);
  }
  const sorted = [...t.partitions].sort((a, b) => a.firstLba - b.firstLba);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!, cur = sorted[i]!;
    if (cur.firstLba < prev.firstLba + prev.sectors) {
      throw new Error(`MBR partition ${cur.number} (from sector ${cur.firstLba}) overlaps partition ${prev.number} (sectors ${prev.firstLba}-${prev.firstLba + prev.sectors - 1})`);
    }
  }
}

/** Sector 0 of an MBR-partitioned disk, with no boot code. Throws a plain Error on an invalid table. */
export function encodeMbr(table: MbrTable): Buffer {
  validate(table);
  const sector = blankSector();
  sector.writeUInt32LE(table.diskSignature, DISK_SIGNATURE_OFFSET_BYTES);
  for (const p of table.partitions) writeRecord(sector, p.number, p, CHS_USE_LBA, CHS_USE_LBA);
  return sector;
}

/** Read sector 0; undefined when it lacks the 0x55AA boot signature (no MBR at all). */
export function decodeMbr(sector0: Buffer): DecodedMbr | undefined {
  if (sector0.length < SECTOR_BYTES || !sector0.subarray(BOOT_SIGNATURE_OFFSET_BYTES, SECTOR_BYTES).equals(BOOT_SIGNATURE)) return undefined;
  const partitions: MbrPartition[] = [];
  for (let number = 1; number <= RECORD_COUNT; number++) {
    const at = RECORDS_OFFSET_BYTES + (number - 1) * RECORD_BYTES;
    const type = sector0[at + 4]!;
    if (type === 0) continue;
    partitions.push({
      number,
      type,
      bootable: (sector0[at]! & BOOTABLE) !== 0,
      firstLba: sector0.readUInt32LE(at + 8),
      sectors: sector0.readUInt32LE(at + 12),
    });
  }
  return {
    diskSignature: sector0.readUInt32LE(DISK_SIGNATURE_OFFSET_BYTES),
    partitions,
    protective: partitions.some((p) => p.type === GPT_PROTECTIVE_TYPE),
  };
}
