import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMbr, encodeMbr, encodeProtectiveMbr, type MbrPartition } from '../../../src/image/mbr.ts';

/** The sector as hex, with the all-zero boot code left out. */
const tail = (sector: Buffer): string => sector.subarray(440).toString('hex');

test('protective MBR: one 0xEE record from LBA 1 over the rest of the disk, as sfdisk writes it', () => {
  const sector = encodeProtectiveMbr(131072);
  assert.equal(sector.length, 512);
  assert.ok(sector.subarray(0, 440).equals(Buffer.alloc(440)));
  assert.equal(
    tail(sector),
    '00000000' + '0000' + // disk signature, unused on GPT disks
      '00' + '000200' + 'ee' + 'ffffff' + '01000000' + 'ffff0100' + // record 1: size 131071 = 0x1FFFF
      '00'.repeat(48) + '55aa',
  );
});

test('protective MBR size saturates at 0xFFFFFFFF on disks over 2 TiB', () => {
  const sector = encodeProtectiveMbr(2 ** 33);
  assert.equal(sector.readUInt32LE(446 + 12), 0xffffffff);
  assert.deepEqual(decodeMbr(sector), {
    diskSignature: 0,
    partitions: [{ number: 1, type: 0xee, bootable: false, firstLba: 1, sectors: 0xffffffff }],
    protective: true,
  });
});

const fat: MbrPartition = { number: 1, type: 0x0c, bootable: true, firstLba: 2048, sectors: 8192 };
const linux: MbrPartition = { number: 2, type: 0x83, bootable: false, firstLba: 10240, sectors: 20480 };

test('encodeMbr writes the signature, records with FE FF FF CHS, and 55 AA', () => {
  const sector = encodeMbr({ diskSignature: 0x1234abcd, partitions: [fat, linux] });
  assert.equal(
    tail(sector),
    'cdab3412' + '0000' +
      '80' + 'feffff' + '0c' + 'feffff' + '00080000' + '00200000' +
      '00' + 'feffff' + '83' + 'feffff' + '00280000' + '00500000' +
      '00'.repeat(32) + '55aa',
  );
});

test('decodeMbr round-trips encodeMbr and keeps slot numbers', () => {
  const table = { diskSignature: 0xdeadbeef, partitions: [{ ...linux, number: 4 }, { ...fat, number: 2 }] };
  assert.deepEqual(decodeMbr(encodeMbr(table)), {
    diskSignature: 0xdeadbeef,
    partitions: [{ ...fat, number: 2 }, { ...linux, number: 4 }],
    protective: false,
  });
});

test('decodeMbr returns undefined without the 55 AA signature', () => {
  assert.equal(decodeMbr(Buffer.alloc(512)), undefined);
  assert.equal(decodeMbr(encodeProtectiveMbr(100).subarray(0, 511)), undefined);
});

test('encodeMbr rejects impossible tables', () => {
  const enc = (partitions: MbrPartition[], diskSignature = 1) => () => encodeMbr({ diskSignature, partitions });
  assert.throws(enc([{ ...fat, number: 5 }]), /MBR partition 5: only primary partitions 1-4/);
  assert.throws(enc([fat, { ...linux, number: 1 }]), /MBR partition 1 is listed twice/);
  assert.throws(enc([fat, { ...linux, firstLba: 10239 }]), /MBR partition 2 \(from sector 10239\) overlaps partition 1 \(sectors 2048-10239\)/);
  assert.throws(enc([{ ...fat, firstLba: 0 }]), /sector 0 holds the MBR/);
  assert.throws(enc([{ ...fat, type: 0 }]), /0 marks an empty record/);
  assert.throws(enc([{ ...fat, sectors: 0 }]), /at least 1/);
  assert.throws(enc([{ ...linux, firstLba: 2 ** 32 - 10, sectors: 20 }]), /limit of 32-bit MBR fields/);
  assert.throws(enc([], 2 ** 32), /not a 32-bit unsigned integer/);
});
