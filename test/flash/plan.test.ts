// The flash planner alone (pure): what it zeroes, what it holds back, where the backup GPT goes,
// and that its plan prints as JSON. No I/O, so every case is exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DriveContents } from '../../src/drive/contents.ts';
import type { Target } from '../../src/drive/facts.ts';
import { describeFlash, planFlash, type FlashImage } from '../../src/plan/flash.ts';
import type { ImagePartition } from '../../src/plan/image.ts';

const MIB = 2 ** 20;
const part = (number: number, role: ImagePartition['role'], name: string, firstLba: number, lastLba: number): ImagePartition => ({
  number, role, name, firstLba, lastLba, typeGuid: '0FC63DAF-8483-4772-8E79-3D69D8477DE4', uniqueGuid: `5B1D3C2A-0000-4000-8000-00000000000${number}`, attributes: 0n, source: null,
});
// A 64 MiB image: p1 at 1-33 MiB, root (p2) at 33-63 MiB; mapped: the head, 2 MiB at 33 MiB, and the backup GPT.
const image: FlashImage = {
  path: 'n1.img', sizeBytes: 64 * MIB, blockSize: 4096, bootCode: Buffer.alloc(440, 0xeb), rootFsSectors: 40960, node: null,
  ranges: [{ first: 0, last: 255, sha256: 'a'.repeat(64) }, { first: 8448, last: 8959, sha256: 'b'.repeat(64) }, { first: 16379, last: 16383, sha256: 'c'.repeat(64) }],
  table: { diskGuid: '5B1D3C2A-1111-4222-8333-444455556666', partitions: [part(1, 'esp', 'esp', 2048, 67583), part(2, 'root', 'root', 67584, 129023)] },
};
const file: Target = { path: 'drive.img', kind: 'file', name: null, exists: true };
const opts = { wipe: true, verify: true, yes: false, canAsk: false };
const none: DriveContents = { table: 'none', partitions: [], backupGptLba: null, signatures: [] };
const covers = (zero: readonly { offset: number; length: number }[], at: number): boolean => zero.some((z) => z.offset <= at && at < z.offset + z.length);

test('on a larger drive: the backup GPT at its end, the image\'s own not copied, the drive\'s last MiB and each partition\'s ends zeroed where nothing is written', () => {
  const p = planFlash(image, file, null, none, 256 * MIB, opts);
  assert.deepEqual(p.refusals, []);
  assert.equal(p.sizeBytes, 256 * MIB);
  assert.equal(p.gpt!.backupOffsetBytes, 256 * MIB - 33 * 512);
  assert.deepEqual(p.skip, [{ offset: 64 * MIB - 33 * 512, length: 33 * 512 }]);
  assert.equal(p.headBytes, MIB);
  assert.equal(p.mappedBytes, (256 + 512 + 5) * 4096);
  assert.ok(covers(p.zero, 255 * MIB), "the drive's last MiB");
  assert.ok(!covers(p.zero, 256 * MIB - 33 * 512), 'but not the new backup GPT, written after');
  assert.ok(covers(p.zero, 64 * MIB - 1), "the image's old backup place");
  assert.ok(covers(p.zero, 32 * MIB), 'end of p1');
  assert.ok(!covers(p.zero, 33 * MIB) && !covers(p.zero, 35 * MIB - 1), 'root\'s start is mapped: written, not zeroed');
  assert.ok(!covers(p.zero, 0), 'the head is zeroed first and written last, never in the zero pass');
  for (let i = 1; i < p.zero.length; i++) assert.ok(p.zero[i]!.offset > p.zero[i - 1]!.offset + p.zero[i - 1]!.length, 'sorted, disjoint');
});

test('old partitions and an old backup GPT mid-drive (a plain copy of a smaller image) are zeroed', () => {
  const old: DriveContents = { table: 'gpt', backupGptLba: 100 * 2048 - 1, signatures: [], partitions: [{ number: 1, firstLba: 150 * 2048, lastLba: 200 * 2048 - 1, name: 'osd' }] };
  const p = planFlash(image, file, null, old, 256 * MIB, opts);
  assert.ok(covers(p.zero, 100 * MIB - 512) && covers(p.zero, 100 * MIB - 33 * 512), 'the old backup GPT');
  assert.ok(covers(p.zero, 150 * MIB) && covers(p.zero, 151 * MIB - 1) && !covers(p.zero, 151 * MIB), 'the old partition\'s first MiB');
  assert.ok(covers(p.zero, 200 * MIB - 1), 'and its last');
  // Before any range is written: the head, the drive's last 33 sectors and the old backup, which Linux would fall back to.
  assert.deepEqual(p.zeroFirst, [{ offset: 0, length: MIB }, { offset: 100 * MIB - 33 * 512, length: 33 * 512 }, { offset: 256 * MIB - 33 * 512, length: 33 * 512 }]);
});

test('the plan is data: the same inputs give the same plan, and it prints as JSON without buffers', () => {
  const a = planFlash(image, file, null, none, 0, opts), b = planFlash(image, file, null, none, 0, opts);
  assert.deepEqual(a, b);
  assert.equal(a.sizeBytes, 64 * MIB, 'a file grows to the image');
  const printed = JSON.parse(JSON.stringify(describeFlash(a))) as { partitions: { name: string }[]; zero: unknown[]; refusals: unknown[] };
  assert.deepEqual(printed.partitions.map((x) => x.name), ['esp', 'root']);
  assert.deepEqual(printed.refusals, []);
});

test('an image with no GPT is copied as it is: no table written, nothing skipped', () => {
  const p = planFlash({ ...image, table: null }, file, null, none, 0, opts);
  assert.equal(p.gpt, null);
  assert.deepEqual(p.skip, []);
  assert.equal(p.tableFrom, 'none');
});
