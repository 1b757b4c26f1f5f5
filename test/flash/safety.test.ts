// Every refusal of `imgforge flash`, judged from facts read out of fake sysfs and proc trees (and,
// for signatures, a file holding them): no real disk is needed, so each runs everywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync, openSync, writeSync, closeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { readContents } from '../../src/drive/contents.ts';
import { majMin, readHostFacts, type Target } from '../../src/drive/facts.ts';
import { judgeTarget, type SafetyInput } from '../../src/plan/flash-safety.ts';
import { tempDir } from '../helpers.ts';
import { fakeHost, MIB, type FakeDisk } from './fixtures.ts';

const GIB = 2 ** 30;
const sdb: FakeDisk = {
  name: 'sdb', dev: '8:16', sectors: (8 * GIB) / 512, model: 'Fake SSD', serial: 'FAKE0001',
  partitions: [{ name: 'sdb1', dev: '8:17', start: 2048, sectors: 1048576 }, { name: 'sdb2', dev: '8:18', start: 1050624, sectors: 2097152 }],
};
const target: Target = { path: '/dev/sdb', kind: 'block', name: 'sdb', exists: true };
const empty = { table: 'none' as const, partitions: [], backupGptLba: null, signatures: [] };

function judge(disks: readonly FakeDisk[], extra: Parameters<typeof fakeHost>[2] = {}, over: Partial<SafetyInput> = {}, imageDev?: string) {
  const root = fakeHost(tempDir('imgforge-sys-'), disks, extra);
  const host = readHostFacts('sdb', { root, imageDev: imageDev ?? null });
  return judgeTarget({ target, host, contents: empty, sizeBytes: host.sizeBytes, neededBytes: GIB, media: 'ssd', wipe: false, yes: true, canAsk: false, ...over });
}
const rules = (r: ReturnType<typeof judge>): string[] => r.refusals.map((x) => x.rule);

test('a drive nothing uses, large enough, with --yes: no refusal, no warning; facts come from the tree', () => {
  const root = fakeHost(tempDir('imgforge-sys-'), [sdb]);
  const host = readHostFacts('sdb', { root });
  assert.equal(host.sizeBytes, 8 * GIB);
  assert.deepEqual([host.model, host.serial, host.removable, host.partitions], ['Fake SSD', 'FAKE0001', false, ['sdb1', 'sdb2']]);
  assert.deepEqual(judge([sdb]), { refusals: [], warnings: [] });
});

test('a mounted partition is refused (exit 2 kind), naming the drive, the partition and the mount point; matched by major:minor', () => {
  const r = judge([sdb], { mountinfo: '40 27 8:18 / /mnt/data rw,relatime shared:1 - ext4 /dev/sdb2 rw' });
  assert.deepEqual(rules(r), ['mounted']);
  assert.equal(r.refusals[0]!.never, false);
  assert.match(r.refusals[0]!.message, /\/dev\/sdb is mounted: sdb2 at \/mnt\/data/);
});

test('btrfs shows an anonymous 0:NN device: the mount is matched by its source instead', () => {
  const r = judge([sdb], { mountinfo: '41 27 0:45 / /srv rw,relatime - btrfs /dev/sdb1 rw,space_cache' });
  assert.deepEqual(rules(r), ['mounted']);
  assert.match(r.refusals[0]!.message, /sdb1 at \/srv/);
});

test('the drive the running system lives on is never written (exit 3 kind): / on a partition, or swap on one', () => {
  const r = judge([sdb], { mountinfo: '29 1 8:17 / / rw,relatime - ext4 /dev/sdb1 rw' });
  assert.deepEqual(rules(r), ['system']);
  assert.equal(r.refusals[0]!.never, true);
  assert.match(r.refusals[0]!.message, /\/dev\/sdb holds the running system \(\/ on sdb1\)/);
  const s = judge([sdb], { swaps: '/dev/sdb2                               partition\t2097148\t\t0\t\t-2' });
  assert.deepEqual(rules(s), ['system']);
  assert.match(s.refusals[0]!.message, /swap on sdb2/);
});

test('LVM, mdraid or device-mapper on a partition (holders) is refused; / on that dm device makes it the system drive', () => {
  const disk = { ...sdb, partitions: [sdb.partitions![0]!, { ...sdb.partitions![1]!, holders: ['dm-0'] }] };
  const dm = [{ name: 'dm-0', dev: '253:0', dmName: 'vg0-root' }];
  const r = judge([disk], { dm });
  assert.deepEqual(rules(r), ['holders']);
  assert.match(r.refusals[0]!.message, /\/dev\/sdb is in use by dm-0 \(on sdb2\)/);
  const sys = judge([disk], { dm, mountinfo: '29 1 253:0 / / rw - ext4 /dev/mapper/vg0-root rw' });
  assert.deepEqual(rules(sys).sort(), ['holders', 'system']);
  assert.match(sys.refusals.find((x) => x.rule === 'system')!.message, /\/ on dm-0/);
});

test('the drive holding the image being flashed is never written', () => {
  const dir = tempDir();
  const dev = majMin(statSync(dir, { bigint: true }).dev);
  const disk = { ...sdb, partitions: [{ ...sdb.partitions![0]!, dev }] };
  const r = judge([disk], {}, {}, dev);
  assert.deepEqual(rules(r), ['source']);
  assert.match(r.refusals[0]!.message, /\/dev\/sdb holds the image being flashed/);
});

test('a drive smaller than the image needs is refused with both sizes', () => {
  const r = judge([{ ...sdb, sectors: (512 * MIB) / 512 }], {}, { neededBytes: GIB });
  assert.deepEqual(rules(r), ['small']);
  assert.match(r.refusals[0]!.message, /\/dev\/sdb holds 512MiB \(536870912 bytes\); the image needs 1GiB \(1073741824 bytes\)/);
});

test('a partition, a read-only drive and a 4Kn drive are refused; 4Kn never', () => {
  const root = fakeHost(tempDir('imgforge-sys-'), [sdb]);
  const part = readHostFacts('sdb1', { root });
  const r = judgeTarget({ target: { ...target, path: '/dev/sdb1', name: 'sdb1' }, host: part, contents: empty, sizeBytes: part.sizeBytes, neededBytes: MIB, media: null, wipe: false, yes: true, canAsk: false });
  assert.deepEqual(rules(r), ['partition']);
  assert.match(r.refusals[0]!.message, /\/dev\/sdb1 is a partition of sdb/);
  const ro = judge([{ ...sdb, readOnly: true }]);
  assert.deepEqual(rules(ro), ['read-only']);
  assert.match(ro.refusals[0]!.message, /\/dev\/sdb is read-only/);
  const k = judge([{ ...sdb, logicalBlockSize: 4096 }]);
  assert.deepEqual(rules(k), ['sector-size']);
  assert.equal(k.refusals[0]!.never, true);
});

test('removable where the profile expects a fixed drive (or the reverse) is a warning, not a refusal', () => {
  const r = judge([{ ...sdb, removable: true }], {}, { media: 'ssd' });
  assert.deepEqual(rules(r), []);
  assert.match(r.warnings[0]!, /expects ssd \(fixed\), but \/dev\/sdb is removable/);
  assert.match(judge([sdb], {}, { media: 'sd' }).warnings[0]!, /expects sd \(removable\), but \/dev\/sdb is fixed/);
});

test('without --yes a block device needs a terminal to ask on', () => {
  assert.deepEqual(rules(judge([sdb], {}, { yes: false, canAsk: false })), ['confirm']);
  assert.deepEqual(rules(judge([sdb], {}, { yes: false, canAsk: true })), []);
});

test('Ceph and file system signatures found by blkid need --wipe, each named with where it is', async () => {
  const dir = tempDir();
  const disk = join(dir, 'disk.img');
  const fd = openSync(disk, 'w');
  ftruncateSync(fd, 64 * MIB);
  closeSync(fd);
  // An MBR with two partitions: ext4 "ceph-old" in the first, a BlueStore label (libblkid bluestore.c magic) at the second's start.
  execFileSync('sfdisk', ['-q', disk], { input: 'label: dos\nstart=2048, size=32768, type=83\nstart=34816, size=32768, type=83\n' });
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'ceph-old', '-E', `offset=${2048 * 512}`, disk, '16M'], { stdio: 'pipe' });
  const bfd = openSync(disk, 'r+');
  writeSync(bfd, Buffer.from('bluestore block device\n', 'latin1'), 0, 23, 34816 * 512);
  closeSync(bfd);
  const contents = await readContents(disk, 64 * MIB);
  assert.equal(contents.table, 'mbr');
  assert.deepEqual(contents.signatures.map((s) => [s.where, s.type, s.label]), [['partition 1', 'ext4', 'ceph-old'], ['partition 2', 'ceph_bluestore', '']]);
  const base = { target, host: null, contents, sizeBytes: 64 * MIB, neededBytes: MIB, media: null, yes: true, canAsk: false };
  const r = judgeTarget({ ...base, wipe: false });
  assert.deepEqual(rules(r), ['data']);
  assert.match(r.refusals[0]!.message, /\/dev\/sdb holds data: ext4 "ceph-old" on partition 1, ceph_bluestore on partition 2; pass --wipe/);
  assert.deepEqual(judgeTarget({ ...base, wipe: true }).refusals, []);
});
