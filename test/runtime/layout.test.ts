// The layout stage, run for real (run-stage, the static script, sgdisk and partx on a real GPT
// image) against the shapes imgforge builds and the layouts users declare: the result must be
// the table the build-time planner computes, a second run must change nothing, a power cut at
// any step must converge, and nothing that is not pending may ever be wiped.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layout } from '../../src/config/schema/layout.ts';
import { PENDING_TYPE } from '../../src/plan/image.ts';
import { placePartitions, planLayout } from '../../src/plan/layout.ts';
import { ROOT } from '../helpers.ts';
import { Machine, SHAPES, VM1_DOC, withLayout } from './machine.ts';

const GiB = 2 ** 30;
const LINUX = '0fc63daf-8483-4772-8e79-3d69d8477de4';

/** What the build-time planner puts where, for this shape, layout and disk. */
function expected(shape: keyof typeof SHAPES, layout: unknown, diskBytes: number): { name: string; first: number; last: number }[] {
  const s = SHAPES[shape]!;
  const root = s.parts.find((p) => p.nr === s.rootNr)!;
  const placed = placePartitions(planLayout(Layout.parse(layout), diskBytes), root.first, diskBytes / 512);
  assert.ok(typeof placed !== 'string', String(placed));
  return placed.map((p) => ({ name: p.role === 'root' ? root.name : p.name, first: p.firstLba, last: p.lastLba }));
}

function onDisk(m: Machine, names: readonly string[]): { name: string; first: number; last: number }[] {
  return names.map((n) => {
    const rows = m.table().filter((r) => r[4] === n);
    assert.equal(rows.length, 1, `one partition named ${n}: ${JSON.stringify(m.table())}`);
    return { name: n, first: Number(rows[0]![1]), last: Number(rows[0]![2]) };
  });
}

const CASES: [string, keyof typeof SHAPES, unknown, number][] = [
  ['Ubuntu shape, half root, Ceph takes the rest (the bundled example), 1 TB', 'ubuntu', { root: { size: '50%' }, reserved: [{ name: 'ceph', size: 'rest' }] }, 1e12],
  ['Ubuntu shape, no reserved partition, root file system over 2 GiB, 16 GiB disk', 'ubuntu', { root: { size: 'rest' } }, 16 * GiB],
  ['Ubuntu shape, root 50% with nothing after it', 'ubuntu', { root: { size: '50%' } }, 64 * GiB],
  ['Hardkernel shape, fixed root, raw Ceph and ext4 Longhorn taking the rest', 'hardkernel', { root: { size: '4GiB' }, reserved: [
    { name: 'ceph', size: '3GiB' }, { name: 'longhorn', size: 'rest', format: 'ext4', mountpoint: '/var/lib/longhorn' }] }, 16 * GiB],
  ['Ubuntu shape, root takes the rest before two fixed partitions', 'ubuntu', { root: { size: 'rest' }, reserved: [{ name: 'a', size: '10GiB' }, { name: 'b', size: '5%' }] }, 500e9],
  ['Hardkernel shape, fractional shares leaving the end free', 'hardkernel', { root: { size: '33.3%' }, reserved: [{ name: 'ceph', size: '55.5%' }] }, 120e9],
];

for (const [name, shape, layout, diskBytes] of CASES) {
  test(`layout stage = build-time plan: ${name}`, () => {
    const m = new Machine(shape, diskBytes, withLayout(layout));
    const r = m.stage('layout');
    assert.equal(r.status, 0, `${r.stderr}\n${JSON.stringify(m.events(), null, 1)}`);
    const want = expected(shape, layout, diskBytes);
    assert.deepEqual(onDisk(m, want.map((w) => w.name)), want);
    assert.match(m.verify(), /No problems found/, 'sgdisk -v: the backup GPT is at the end and nothing overlaps');
    for (const row of m.table().filter((t) => want.some((w) => w.name === t[4]) && t[4] !== want[0]!.name)) assert.equal(row[3], LINUX, `${row[4]} has its final type`);
    // The kernel has seen root grow, and the file system followed (over 2 GiB: integer arithmetic).
    const rootSectors = want[0]!.last - want[0]!.first + 1;
    assert.equal(Number(m.read(`sys/block/vda/vda${m.rootNr}/size`)), rootSectors);
    assert.equal(Number(m.read(`.fake/fs-vda${m.rootNr}`)), rootSectors * 512);
    assert.deepEqual(m.events().map((e) => [e.state, e.changed]).filter(([s]) => s !== 'note'), [['begin', undefined], ['ok', true]]);

    // A second boot finds everything in place and touches nothing.
    m.boot();
    m.clearEvents();
    const again = m.stage('layout');
    assert.equal(again.status, 0, again.stderr);
    assert.deepEqual(m.events().map((e) => [e.state, e.changed]), [['begin', undefined], ['ok', false]]);
    const writes = m.calls().filter((c) => ['wipefs', 'dd', 'mkfs.ext4', 'resize2fs'].includes(c[0]!) || (c[0] === 'sgdisk' && !['-p', '-i'].includes(c[1]!)));
    assert.deepEqual(writes, [], 'no write on a second boot');
  });
}

describe('data safety', () => {
  const layout = { root: { size: '4GiB' }, reserved: [{ name: 'ceph', size: '3GiB' }, { name: 'longhorn', size: 'rest', format: 'ext4', mountpoint: '/var/lib/longhorn' }] };

  test('new partitions are wiped and formatted in the run that creates them; a live OSD survives losing /var/lib/imgforge', () => {
    const m = new Machine('hardkernel', 16 * GiB, withLayout(layout));
    // A reused SSD: old signatures where the partitions will go.
    m.setSignature('vda4', 'LVM2_member');
    m.setSignature('vda5', 'xfs');
    assert.equal(m.stage('layout').status, 0);
    assert.equal(m.signature('vda4'), null, 'the raw Ceph partition is wiped');
    assert.equal(m.signature('vda5'), 'ext4', 'Longhorn is formatted');
    // Rook turns it into an OSD; then the node loses imgforge's state folder, and reboots.
    m.setSignature('vda4', 'ceph_bluestore');
    m.boot();
    m.installNode(withLayout(layout));
    assert.equal(m.stage('layout').status, 0);
    assert.equal(m.signature('vda4'), 'ceph_bluestore', 'the OSD is intact');
    assert.deepEqual(m.calls().filter((c) => ['wipefs', 'dd', 'mkfs.ext4'].includes(c[0]!)), []);
  });

  test('a partition the build wrote as pending (build --disk-size) is wiped at first boot; one with its final type never is', () => {
    const m = new Machine('hardkernel', 16 * GiB, withLayout(layout));
    assert.equal(m.stage('layout').status, 0);
    // The disk as a --disk-size build leaves it: the same table, ceph still pending, longhorn final.
    m.run(['sgdisk', '-t', `4:${PENDING_TYPE}`, '/dev/vda']);
    m.setSignature('vda4', 'swap');
    m.setSignature('vda5', 'ext4');
    m.boot();
    assert.equal(m.stage('layout').status, 0);
    assert.equal(m.signature('vda4'), null);
    assert.equal(m.signature('vda5'), 'ext4');
    assert.deepEqual(m.calls('mkfs.ext4'), [], 'a final ext4 partition is never formatted again');
  });

  test('a power cut at any step converges to the same disk, each partition once, and wipes nothing that was handed over', () => {
    const clean = new Machine('hardkernel', 16 * GiB, withLayout(layout));
    assert.equal(clean.stage('layout').status, 0);
    const steps = clean.calls().length;
    const final = clean.table();
    assert.ok(steps > 10, `the stage ran ${steps} commands`);
    for (let cut = 1; cut <= steps; cut++) {
      const m = new Machine('hardkernel', 16 * GiB, withLayout(layout));
      const first = m.stage('layout', { FAKE_CUT: String(cut) });
      assert.ok(first.cut, `cut at step ${cut}`);
      m.boot();
      const handedOver = m.table().filter((t) => t[3] === LINUX && ['ceph', 'longhorn'].includes(t[4]!)).map((t) => `vda${t[0]}`);
      for (const dev of handedOver) m.setSignature(dev, dev === 'vda5' ? 'ext4' : 'ceph_bluestore');
      const again = m.stage('layout');
      assert.equal(again.status, 0, `after a cut at step ${cut}: ${again.stderr} ${JSON.stringify(m.events().at(-1))}`);
      assert.deepEqual(m.table(), final, `after a cut at step ${cut}`);
      for (const dev of handedOver) assert.notEqual(m.signature(dev), null, `after a cut at step ${cut}, ${dev} was handed over and kept its data`);
    }
  });
});

test('a disk too small fails the stage with the sizes, touching nothing; root past its declared end is never shrunk', () => {
  const small = new Machine('ubuntu', 8 * GiB, withLayout({ root: { size: '4GiB' }, reserved: [{ name: 'ceph', size: '64GiB' }] }));
  const r = small.stage('layout');
  assert.equal(r.status, 1);
  const fail = small.events().at(-1)!;
  assert.equal(fail.state, 'fail');
  assert.match(fail.msg!, /the layout needs 69632 MiB after root's start but the disk has \d+ MiB/);
  assert.equal(small.events().filter((e) => e.state === 'retry').length, 0, 'no retry of what no retry can mend');
  assert.deepEqual(small.calls().filter((c) => c[0] === 'sgdisk' && c[1] !== '-p'), []);

  const grown = new Machine('ubuntu', 16 * GiB, withLayout({ root: { size: '2GiB' } }));
  const r2 = grown.stage('layout');
  assert.equal(r2.status, 1);
  assert.match(grown.events().at(-1)!.msg!, /root already ends at sector \d+, past its declared end \d+; imgforge never shrinks root/);
});

test('a failed step is retried by the stage policy, with retry events, and then succeeds', () => {
  const m = new Machine('ubuntu', 16 * GiB, VM1_DOC);
  const r = m.stage('layout', { FAKE_FAIL: 'resize2fs:1' });
  assert.equal(r.status, 0, r.stderr);
  const states = m.events().filter((e) => e.state !== 'note').map((e) => e.state);
  assert.deepEqual(states, ['begin', 'retry', 'ok']);
  assert.match(m.events().find((e) => e.state === 'retry')!.msg!, /resize2fs \/dev\/vda1 failed; next try in 5 s/);
});

test('the script\'s pending type is the build planner\'s', () => {
  const script = readFileSync(join(ROOT, 'runtime/usr/local/lib/imgforge/stages/layout.sh'), 'utf8');
  assert.equal(/^PENDING_TYPE=(\S+)/m.exec(script)![1], PENDING_TYPE.toLowerCase());
});
