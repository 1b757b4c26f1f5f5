/**
 * GRUB's legacy-BIOS boot chain on a GPT disk, set up as grub-bios-setup does it (grub 2.06
 * util/setup.c), but on bytes instead of a device: boot.img goes into the first 440 bytes of the
 * protective MBR and is told the sector of core.img; core.img goes into the BIOS boot partition
 * (type 21686148-6449-6E6F-744E-656564454649) and its first sector, diskboot.img, is told where the
 * rest of it lies. The BIOS runs the MBR code, which loads diskboot, which loads the rest.
 */

const SECTOR = 512;
/** Bytes of MBR boot code before the disk signature (UEFI 2.10 §5.2.1, "BootCode"). */
export const MBR_BOOT_CODE_BYTES = 440;
// include/grub/i386/pc/boot.h
const KERNEL_SECTOR = 0x5c;
const DRIVE_CHECK = 0x66;
const BOOT_SIGNATURE = 0x1fe;
// include/grub/offsets.h: struct grub_pc_bios_boot_blocklist { u64 start; u16 len; u16 segment }
// sits at the end of diskboot.img; grub-mkimage fills len, grub-bios-setup the start.
const BLOCKLIST = SECTOR - 12;
/** diskboot.S loads core.img to segment 0x820; grub-mkimage refuses a core over 0x78000 bytes. */
const CORE_SEGMENT = 0x820;
export const MAX_CORE_BYTES = 0x78000;

export interface GrubBiosBoot {
  /** The MBR's boot code, bytes 0-439; the disk signature and partition records stay ours. */
  readonly bootCode: Buffer;
  /** core.img with its blocklist pointing at the sectors after its first. */
  readonly core: Buffer;
}

/** Patch boot.img and core.img for a core.img written at `coreLba`. Throws a plain Error on bad input. */
export function grubBiosBoot(bootImg: Buffer, coreImg: Buffer, coreLba: number): GrubBiosBoot {
  if (bootImg.length !== SECTOR || bootImg.readUInt16LE(BOOT_SIGNATURE) !== 0xaa55) throw new Error('boot.img is not a 512-byte boot sector');
  if (coreImg.length < 2 * SECTOR || coreImg.length > MAX_CORE_BYTES) throw new Error(`core.img is ${coreImg.length} bytes; GRUB loads 1 KiB to ${MAX_CORE_BYTES} bytes`);
  if (!Number.isInteger(coreLba) || coreLba < 1) throw new Error(`core.img sector ${coreLba} is not a sector after the MBR`);
  const core = Buffer.alloc(Math.ceil(coreImg.length / SECTOR) * SECTOR);
  coreImg.copy(core);
  const rest = core.length / SECTOR - 1;
  const len = core.readUInt16LE(BLOCKLIST + 8);
  if (len !== rest || core.readUInt16LE(BLOCKLIST + 10) !== CORE_SEGMENT) {
    throw new Error(`core.img's blocklist says ${len} sectors at segment 0x${core.readUInt16LE(BLOCKLIST + 10).toString(16)}, expected ${rest} at 0x820: not an i386-pc core image`);
  }
  core.writeBigUInt64LE(BigInt(coreLba + 1), BLOCKLIST);

  const boot = Buffer.from(bootImg);
  boot.writeBigUInt64LE(BigInt(coreLba), KERNEL_SECTOR);
  // setup.c: on a hard disk, replace the jump over the boot-drive check with two NOPs, for BIOSes
  // that pass a wrong drive number.
  boot[DRIVE_CHECK] = 0x90;
  boot[DRIVE_CHECK + 1] = 0x90;
  return { bootCode: boot.subarray(0, MBR_BOOT_CODE_BYTES), core };
}
