import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { decodeGpt, encodeGpt, gptGeometry, type GptLayout, type GptPartition } from '../../../src/image/gpt.ts';
import { encodeProtectiveMbr } from '../../../src/image/mbr.ts';
import { encodeGuid } from '../../../src/image/guid.ts';

const SECTOR = 512;
const DISK_SECTORS = 4096;
const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const LINUX_TYPE = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

const esp: GptPartition = { number: 15, typeGuid: ESP_TYPE, uniqueGuid: '11111111-2222-4333-8444-555555555555', firstLba: 2048, lastLba: 2559, attributes: 0n, name: 'UEFI' };
const root: GptPartition = { number: 1, typeGuid: LINUX_TYPE, uniqueGuid: '66666666-7777-4888-9999-AAAAAAAAAAAA', firstLba: 2560, lastLba: 4062, attributes: 1n << 60n, name: 'cloudimg-rootfs' };
const layout: GptLayout = { diskSectors: DISK_SECTORS, diskGuid: 'DEADBEEF-0000-4000-8000-0123456789AB', partitions: [esp, root] };

/** The whole disk in memory, with both GPT copies written where encodeGpt says. */
function disk(l: GptLayout = layout): Buffer {
  const gpt = encodeGpt(l);
  const buf = Buffer.alloc(l.diskSectors * SECTOR);
  gpt.primary.copy(buf, 0);
  gpt.backup.copy(buf, gpt.backupOffsetBytes);
  return buf;
}
const reader = (buf: Buffer) => (offset: number, length: number): Buffer => buf.subarray(offset, offset + length);
const u64 = (b: Buffer, at: number): number => Number(b.readBigUInt64LE(at));

test('primary is protective MBR, header and 32 entry sectors; backup is entries then header at the end', () => {
  const gpt = encodeGpt(layout);
  assert.equal(gpt.primary.length, 34 * SECTOR);
  assert.equal(gpt.backup.length, 33 * SECTOR);
  assert.equal(gpt.backupOffsetBytes, (DISK_SECTORS - 33) * SECTOR);
  assert.ok(gpt.primary.subarray(0, SECTOR).equals(encodeProtectiveMbr(DISK_SECTORS)));
  assert.ok(gpt.primary.subarray(2 * SECTOR).equals(gpt.backup.subarray(0, 32 * SECTOR)), 'both entry arrays are identical');
});

test('primary header fields (UEFI 2.10 §5.3.2, Table 5-5)', () => {
  const h = encodeGpt(layout).primary.subarray(SECTOR, 2 * SECTOR);
  assert.equal(h.subarray(0, 24).toString('hex'), '4546492050415254' + '00000100' + '5c000000' + h.subarray(16, 20).toString('hex') + '00000000');
  assert.deepEqual([u64(h, 24), u64(h, 32), u64(h, 40), u64(h, 48), u64(h, 72)], [1, 4095, 34, 4062, 2]);
  assert.equal(h.subarray(56, 72).toString('hex'), 'efbeadde0000004080000123456789ab');
  assert.deepEqual([h.readUInt32LE(80), h.readUInt32LE(84)], [128, 128]);
  assert.ok(h.subarray(92).equals(Buffer.alloc(SECTOR - 92)), 'reserved bytes are zero');
});

test('CRC32s cover the 92-byte header with its CRC field zeroed, and the whole entry array', () => {
  const { primary } = encodeGpt(layout);
  const h = Buffer.from(primary.subarray(SECTOR, SECTOR + 92));
  const stored = h.readUInt32LE(16);
  h.writeUInt32LE(0, 16);
  assert.equal(stored, crc32(h));
  assert.equal(h.readUInt32LE(88), crc32(primary.subarray(2 * SECTOR)));
});

test('backup header points back at the primary and at its own entry array', () => {
  const { backup } = encodeGpt(layout);
  const h = backup.subarray(32 * SECTOR);
  assert.deepEqual([u64(h, 24), u64(h, 32), u64(h, 40), u64(h, 48), u64(h, 72)], [4095, 1, 34, 4062, 4063]);
});

test('an entry sits in its slot: type, unique GUID, LBAs, attributes, UTF-16LE name', () => {
  const entries = encodeGpt(layout).primary.subarray(2 * SECTOR);
  const e = entries.subarray(14 * 128, 15 * 128);
  assert.ok(e.subarray(0, 16).equals(encodeGuid(ESP_TYPE)));
  assert.ok(e.subarray(16, 32).equals(encodeGuid(esp.uniqueGuid)));
  assert.deepEqual([u64(e, 32), u64(e, 40)], [2048, 2559]);
  assert.equal(e.subarray(56, 64).toString('hex'), '5500450046004900');
  assert.ok(e.subarray(64).equals(Buffer.alloc(64)));
  assert.equal(entries.readBigUInt64LE(48), 1n << 60n, 'slot 1 attributes');
  assert.ok(entries.subarray(128, 14 * 128).equals(Buffer.alloc(13 * 128)), 'unused slots are zero');
});

test('decodeGpt round-trips encodeGpt, keeping slot numbers in slot order', () => {
  const decoded = decodeGpt(reader(disk()), DISK_SECTORS * SECTOR);
  assert.deepEqual(decoded, {
    diskSectors: DISK_SECTORS, diskGuid: layout.diskGuid, partitions: [root, esp], entryCount: 128,
    firstUsableLba: 34, lastUsableLba: 4062, alternateLba: 4095,
  });
});

test('names up to 36 UTF-16 code units survive, including non-ASCII', () => {
  const name = 'ø'.repeat(35) + '€';
  const decoded = decodeGpt(reader(disk({ ...layout, partitions: [{ ...root, name }] })), DISK_SECTORS * SECTOR);
  assert.equal(decoded.partitions[0]!.name, name);
});

test('a larger entry array moves the usable area', () => {
  assert.deepEqual(gptGeometry(DISK_SECTORS, 256), { entrySectors: 64, firstUsableLba: 66, lastUsableLba: 4030, backupEntriesLba: 4031 });
  const l = { ...layout, entryCount: 256, partitions: [{ ...esp, number: 200 }] };
  const decoded = decodeGpt(reader(disk(l)), DISK_SECTORS * SECTOR);
  assert.equal(decoded.entryCount, 256);
  assert.equal(decoded.partitions[0]!.number, 200);
  assert.throws(() => gptGeometry(DISK_SECTORS, 64), /at least 128/);
});

test('decodeGpt detects a missing signature and CRC corruption', () => {
  const size = DISK_SECTORS * SECTOR;
  assert.throws(() => decodeGpt(reader(Buffer.alloc(size)), size), /no GPT: sector 1 does not start with the signature "EFI PART"/);
  const badHeader = disk();
  badHeader[SECTOR + 60]! ^= 1;
  assert.throws(() => decodeGpt(reader(badHeader), size), /GPT header CRC32 mismatch: stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}/);
  const badEntries = disk();
  badEntries[2 * SECTOR + 14 * 128 + 57]! ^= 1;
  assert.throws(() => decodeGpt(reader(badEntries), size), /GPT entry array CRC32 mismatch/);
  assert.throws(() => decodeGpt(reader(disk()), size - 100), /not a whole number of 512-byte sectors/);
  assert.throws(() => decodeGpt(() => Buffer.alloc(10), size), /short read of the GPT header/);
});

test('encodeGpt rejects overlaps, out-of-range partitions and bad slots', () => {
  const enc = (partitions: GptPartition[], l: Partial<GptLayout> = {}) => () => encodeGpt({ ...layout, ...l, partitions });
  assert.throws(enc([esp, { ...root, firstLba: 2559 }]), /GPT partition 1 "cloudimg-rootfs" \(sectors 2559-4062\) overlaps GPT partition 15 "UEFI" \(sectors 2048-2559\)/);
  assert.throws(enc([{ ...root, firstLba: 33 }]), /lies outside the usable sectors 34-4062 of a 4096-sector disk/);
  assert.throws(enc([{ ...root, lastLba: 4063 }]), /lies outside the usable sectors 34-4062/);
  assert.throws(enc([{ ...root, firstLba: 3000, lastLba: 2999 }]), /first sector must be a whole number no greater than the last/);
  assert.throws(enc([esp, { ...root, number: 15 }]), /GPT partition number 15 is used twice/);
  assert.throws(enc([{ ...root, number: 0 }]), /outside the entry array's slots 1-128/);
  assert.throws(enc([{ ...root, number: 129 }]), /outside the entry array's slots 1-128/);
});

test('encodeGpt rejects bad GUIDs, names, attributes and tiny disks', () => {
  const enc = (partitions: GptPartition[], l: Partial<GptLayout> = {}) => () => encodeGpt({ ...layout, ...l, partitions });
  assert.throws(enc([{ ...root, typeGuid: '00000000-0000-0000-0000-000000000000' }]), /all-zero type GUID, which marks an unused entry/);
  assert.throws(enc([{ ...root, typeGuid: 'linux' }]), /GPT partition 1 "cloudimg-rootfs" \(sectors 2560-4062\) type GUID: "linux" is not a GUID/);
  assert.throws(enc([esp, { ...root, uniqueGuid: esp.uniqueGuid.toLowerCase() }]), /needs a unique GUID of its own/);
  assert.throws(enc([], { diskGuid: 'nope' }), /GPT disk GUID: "nope" is not a GUID/);
  assert.throws(enc([{ ...root, name: 'x'.repeat(37) }]), /at most 36 UTF-16 code units/);
  assert.throws(enc([{ ...root, attributes: 1n << 64n }]), /attributes must fit in 64 bits/);
  assert.throws(enc([], { diskSectors: 67 }), /a 67-sector disk is too small for a GPT with 128 entries/);
  assert.doesNotThrow(enc([{ ...root, firstLba: 34, lastLba: 34 }], { diskSectors: 68 }));
});
