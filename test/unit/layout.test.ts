import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Layout } from '../../src/config/schema/layout.ts';
import { ALIGN_BYTES, planLayout } from '../../src/plan/layout.ts';

const layout = (v: unknown) => Layout.parse(v);
const TB = 1e12;

test('root 50% + ceph rest on a 1 TB disk: root resolves to half, aligned down to 1 MiB', () => {
  const p = planLayout(layout({ root: { size: '50%' }, reserved: [{ name: 'ceph', size: 'rest' }] }), TB);
  assert.deepEqual(p.problems, []);
  const [root, ceph] = p.partitions;
  assert.equal(root!.bytes, Math.floor(TB / 2 / ALIGN_BYTES) * ALIGN_BYTES);
  assert.equal(root!.bytes! % ALIGN_BYTES, 0);
  assert.equal(ceph!.bytes, null, '"rest" is what remains on the real disk');
  assert.equal(ceph!.format, 'raw');
  assert.equal(ceph!.mountpoint, null);
});

test('unknown disk size: shares stay relative, fixed sizes resolve', () => {
  const p = planLayout(layout({ root: { size: '64GiB' }, reserved: [{ name: 'longhorn', size: 'rest', format: 'ext4', mountpoint: '/var/lib/longhorn' }] }), null);
  assert.deepEqual(p.problems, []);
  assert.equal(p.partitions[0]!.bytes, 64 * 2 ** 30);
  assert.equal(p.partitions[1]!.size, 'rest');
  assert.equal(planLayout(layout({ root: { size: '50%' } }), null).partitions[0]!.bytes, null);
});

test('defaults: root takes the rest, nothing reserved', () => {
  const p = planLayout(layout({}), null);
  assert.deepEqual(p.partitions.map((x) => [x.name, x.size]), [['root', 'rest']]);
});

test('problems: two rests, shares over 100%, ext4 without mountpoint, raw with one, duplicate or reserved names, too small a disk', () => {
  const cases: [unknown, number | null, RegExp][] = [
    [{ reserved: [{ name: 'ceph', size: 'rest' }] }, null, /only one partition can take "rest", but root and ceph do/],
    [{ root: { size: '60%' }, reserved: [{ name: 'ceph', size: '50%' }] }, null, /add up to 110%/],
    [{ root: { size: '10GiB' }, reserved: [{ name: 'data', size: 'rest', format: 'ext4' }] }, null, /"data" is ext4 but has no mountpoint/],
    [{ root: { size: '10GiB' }, reserved: [{ name: 'ceph', size: 'rest', mountpoint: '/mnt' }] }, null, /raw .* cannot be mounted at \/mnt/],
    [{ root: { size: '10GiB' }, reserved: [{ name: 'a', size: '1GiB' }, { name: 'a', size: '1GiB' }] }, null, /"a" is used twice/],
    [{ root: { size: '10GiB' }, reserved: [{ name: 'cidata', size: '1GiB' }] }, null, /"cidata" .* reserved by imgforge/],
    [{ root: { size: '600GiB' }, reserved: [{ name: 'ceph', size: '500GiB' }] }, TB, /need 1.07TiB but the disk holds 931.32GiB/],
  ];
  for (const [l, disk, re] of cases) {
    const problems = planLayout(layout(l), disk).problems;
    assert.ok(problems.some((p) => re.test(p)), `${JSON.stringify(l)}: ${problems.join('; ')}`);
  }
});
