// GRUB's legacy-BIOS chain set up on bytes (grub-bios-setup's job, util/setup.c): the fields
// boot.img and diskboot.img read, and the protective MBR carrying the code. Booting it for real
// under SeaBIOS is a boot test (test/vm/boot.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeGpt } from '../../../src/image/gpt.ts';
import { grubBiosBoot } from '../../../src/image/grub-bios.ts';

function bootImg(): Buffer {
  const b = Buffer.alloc(512, 0x11);
  b[0x66] = 0xeb; b[0x67] = 0x05;
  b.writeUInt16LE(0xaa55, 0x1fe);
  return b;
}

/** A core.img of `sectors` sectors as grub-mkimage writes it: blocklist len = sectors - 1, segment 0x820. */
function coreImg(bytes: number): Buffer {
  const c = Buffer.alloc(bytes, 0x22);
  c.writeBigUInt64LE(2n, 500);
  c.writeUInt16LE(Math.ceil(bytes / 512) - 1, 508);
  c.writeUInt16LE(0x820, 510);
  return c;
}

test('boot.img learns core.img\'s sector, diskboot the sectors after it; the drive check becomes NOPs', () => {
  const { bootCode, core } = grubBiosBoot(bootImg(), coreImg(3 * 512 - 100), 2048);
  assert.equal(bootCode.length, 440);
  assert.equal(bootCode.readBigUInt64LE(0x5c), 2048n);
  assert.deepEqual([bootCode[0x66], bootCode[0x67]], [0x90, 0x90]);
  assert.equal(bootCode[0], 0x11);
  assert.equal(core.length, 3 * 512, 'padded to whole sectors');
  assert.equal(core.readBigUInt64LE(500), 2049n);
  assert.equal(core.readUInt16LE(508), 2);
  assert.equal(core[600], 0x22);
});

test('what is not a boot sector or an i386-pc core image is refused', () => {
  const notBoot = bootImg();
  notBoot.writeUInt16LE(0, 0x1fe);
  assert.throws(() => grubBiosBoot(notBoot, coreImg(1024), 2048), /not a 512-byte boot sector/);
  const wrongLen = coreImg(2048);
  wrongLen.writeUInt16LE(1, 508);
  assert.throws(() => grubBiosBoot(bootImg(), wrongLen, 2048), /not an i386-pc core image/);
  assert.throws(() => grubBiosBoot(bootImg(), coreImg(0x78000 + 512), 2048), /GRUB loads/);
  assert.throws(() => grubBiosBoot(bootImg(), coreImg(1024), 0), /not a sector after the MBR/);
});

test('the protective MBR carries the boot code before its disk signature and keeps its 0xEE record', () => {
  const { bootCode } = grubBiosBoot(bootImg(), coreImg(1024), 2048);
  const gpt = encodeGpt({ diskSectors: 8192, diskGuid: '9A0F3F4A-1B2C-4D5E-8F90-A1B2C3D4E5F6', partitions: [], bootCode });
  assert.deepEqual(gpt.primary.subarray(0, 440), bootCode);
  assert.equal(gpt.primary[446 + 4], 0xee);
  assert.equal(gpt.primary.readUInt16LE(510), 0xaa55);
  const plain = encodeGpt({ diskSectors: 8192, diskGuid: '9A0F3F4A-1B2C-4D5E-8F90-A1B2C3D4E5F6', partitions: [] });
  assert.deepEqual(plain.primary.subarray(440), gpt.primary.subarray(440), 'only the boot code differs');
  assert.throws(() => encodeGpt({ diskSectors: 8192, diskGuid: '9A0F3F4A-1B2C-4D5E-8F90-A1B2C3D4E5F6', partitions: [], bootCode: Buffer.alloc(441) }), /440 fit/);
});
