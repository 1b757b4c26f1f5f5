/**
 * The GPT and MBR encoders cross-checked with sgdisk and sfdisk on sparse files, and the decoders
 * fed tables those tools wrote. Skipped when a tool is missing, failed instead under CI.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool, tempDir } from '../../helpers.ts';
import { decodeGpt, encodeGpt, type GptLayout, type GptPartition } from '../../../src/image/gpt.ts';
import { decodeMbr, encodeMbr, encodeProtectiveMbr } from '../../../src/image/mbr.ts';
import { deriveGuid } from '../../../src/image/guid.ts';

const SECTOR = 512;
const skipSgdisk = requireTool('sgdisk') ? false : 'sgdisk is not installed';
const skipSfdisk = requireTool('sfdisk') ? false : 'sfdisk is not installed';
const skipBoth = skipSgdisk || skipSfdisk;

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

const dir = tempDir('imgforge-ptable-');
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function sparseFile(bytes: number): string {
  const file = join(dir, `disk${++files}.img`);
  writeFileSync(file, '');
  truncateSync(file, bytes);
  return file;
}

function writeAt(file: string, data: Buffer, offset: number): void {
  const fd = openSync(file, 'r+');
  try { writeSync(fd, data, 0, data.length, offset); } finally { closeSync(fd); }
}

function readerOf(file: string): (offset: number, length: number) => Buffer {
  return (offset, length) => {
    const buf = Buffer.alloc(length);
    const fd = openSync(file, 'r');
    try { return buf.subarray(0, readSync(fd, buf, 0, length, offset)); } finally { closeSync(fd); }
  };
}

interface SfdiskTable {
  partitiontable: {
    label: string; id: string; firstlba?: number; lastlba?: number;
    partitions: { node: string; start: number; size: number; type: string; uuid?: string; name?: string; attrs?: string; bootable?: boolean }[];
  };
}
const sfdiskJson = (file: string): SfdiskTable['partitiontable'] => (JSON.parse(run('sfdisk', ['--json', file])) as SfdiskTable).partitiontable;
const slotOf = (node: string): number => Number(/(\d+)$/.exec(node)![1]);

const part = (number: number, typeGuid: string, firstLba: number, lastLba: number, name: string): GptPartition =>
  ({ number, typeGuid, uniqueGuid: deriveGuid('it-cluster', 'cp1', name), firstLba, lastLba, attributes: 0n, name });

test('Ubuntu noble amd64 layout: sgdisk finds no problems and sfdisk reads it back', { skip: skipBoth }, () => {
  const diskSectors = 7340032; // 3.5 GiB, the size of noble-server-cloudimg-amd64.img; sparse
  const layout: GptLayout = {
    diskSectors,
    diskGuid: deriveGuid('it-cluster', 'cp1', 'disk'),
    partitions: [
      part(14, '21686148-6449-6E6F-744E-656564454649', 2048, 10239, 'BIOS boot'),
      part(15, 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 10240, 227327, 'UEFI'),
      part(16, 'BC13C2FF-59E6-4262-A352-B275FD6F7172', 227328, 2097151, 'BOOT'),
      part(1, '0FC63DAF-8483-4772-8E79-3D69D8477DE4', 2099200, diskSectors - 34, 'cloudimg-rootfs'),
    ],
  };
  const file = sparseFile(diskSectors * SECTOR);
  const gpt = encodeGpt(layout);
  writeAt(file, gpt.primary, 0);
  writeAt(file, gpt.backup, gpt.backupOffsetBytes);

  assert.match(run('sgdisk', ['-v', file]), /No problems found/);
  const table = sfdiskJson(file);
  assert.deepEqual([table.label, table.id, table.firstlba, table.lastlba], ['gpt', layout.diskGuid, 34, diskSectors - 34]);
  const seen = table.partitions.map((p) => ({ number: slotOf(p.node), first: p.start, last: p.start + p.size - 1, type: p.type, uuid: p.uuid, name: p.name, attrs: p.attrs }));
  const want = layout.partitions.map((p) => ({ number: p.number, first: p.firstLba, last: p.lastLba, type: p.typeGuid, uuid: p.uniqueGuid, name: p.name, attrs: undefined }));
  assert.deepEqual(seen.sort((a, b) => a.number - b.number), want.sort((a, b) => a.number - b.number));
  assert.deepEqual(decodeGpt(readerOf(file), diskSectors * SECTOR).partitions, [...layout.partitions].sort((a, b) => a.number - b.number));
});

test('attributes and non-ASCII names reach sfdisk', { skip: skipBoth }, () => {
  const diskSectors = 131072;
  const legacyBootable = 1n << 2n;
  const p = { ...part(1, '0FC63DAF-8483-4772-8E79-3D69D8477DE4', 2048, 131038, 'rööt €'), attributes: legacyBootable | (1n << 60n) };
  const file = sparseFile(diskSectors * SECTOR);
  const gpt = encodeGpt({ diskSectors, diskGuid: deriveGuid('it', 'attrs'), partitions: [p] });
  writeAt(file, gpt.primary, 0);
  writeAt(file, gpt.backup, gpt.backupOffsetBytes);
  assert.match(run('sgdisk', ['-v', file]), /No problems found/);
  const [seen] = sfdiskJson(file).partitions;
  assert.deepEqual([seen!.name, seen!.attrs], ['rööt €', 'LegacyBIOSBootable GUID:60']);
});

test('decodeGpt reads a table written by sgdisk', { skip: skipSgdisk }, () => {
  const file = sparseFile(64 * 2 ** 20);
  const diskGuid = 'A1B2C3D4-0000-4000-8000-000000000001';
  const espGuid = 'A1B2C3D4-0000-4000-8000-000000000002';
  run('sgdisk', ['-U', diskGuid, '-n', '15:2048:+1M', '-t', '15:EF00', '-c', '15:ESP', '-u', `15:${espGuid}`, '-A', '15:set:2', '-n', '1:0:0', '-t', '1:8300', '-c', '1:root', file]);
  const gpt = decodeGpt(readerOf(file), statSync(file).size);
  assert.equal(gpt.diskGuid, diskGuid);
  assert.deepEqual([gpt.firstUsableLba, gpt.lastUsableLba, gpt.alternateLba], [34, 131038, 131071]);
  const [root, esp] = gpt.partitions;
  assert.deepEqual(esp, { number: 15, typeGuid: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', uniqueGuid: espGuid, firstLba: 2048, lastLba: 4095, attributes: 4n, name: 'ESP' });
  assert.deepEqual([root!.number, root!.typeGuid, root!.firstLba, root!.name], [1, '0FC63DAF-8483-4772-8E79-3D69D8477DE4', 4096, 'root']);
});

test('the protective MBR is byte-identical to the one sfdisk writes', { skip: skipSfdisk }, () => {
  const file = sparseFile(64 * 2 ** 20);
  run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', file], 'label: gpt\n');
  const sector0 = readerOf(file)(0, SECTOR);
  assert.ok(sector0.equals(encodeProtectiveMbr(131072)), sector0.subarray(440).toString('hex'));
  assert.equal(decodeMbr(sector0)?.protective, true);
});

test('encodeMbr output is read by sfdisk; decodeMbr reads what sfdisk writes', { skip: skipSfdisk }, () => {
  const file = sparseFile(64 * 2 ** 20);
  writeAt(file, encodeMbr({
    diskSignature: 0x1234abcd,
    partitions: [
      { number: 1, type: 0x0c, bootable: true, firstLba: 2048, sectors: 8192 },
      { number: 2, type: 0x83, bootable: false, firstLba: 10240, sectors: 131072 - 10240 },
    ],
  }), 0);
  const table = sfdiskJson(file);
  assert.deepEqual([table.label, table.id], ['dos', '0x1234abcd']);
  assert.deepEqual(table.partitions.map((p) => [slotOf(p.node), p.start, p.size, p.type, p.bootable ?? false]), [[1, 2048, 8192, 'c', true], [2, 10240, 120832, '83', false]]);

  const other = sparseFile(64 * 2 ** 20);
  run('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', other], 'label: dos\nlabel-id: 0xcafe0001\n2048,8192,ef,*\n,,83\n');
  assert.deepEqual(decodeMbr(readerOf(other)(0, SECTOR)), {
    diskSignature: 0xcafe0001,
    partitions: [
      { number: 1, type: 0xef, bootable: true, firstLba: 2048, sectors: 8192 },
      { number: 2, type: 0x83, bootable: false, firstLba: 10240, sectors: 120832 },
    ],
    protective: false,
  });
});
