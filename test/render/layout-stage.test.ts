// The first-boot layout stage's planning, run for real under sh with the geometry of a disk, and
// checked against the image planner (planImage) that writes the same layout when the disk size is
// known at build time: both must put every partition on the same sectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { Layout } from '../../src/config/schema/layout.ts';
import { seedContext } from '../../src/plan/context.ts';
import { planImage } from '../../src/plan/image.ts';
import { createEnvironment, renderTemplate } from '../../src/render/environment.ts';
import { loadTemplates } from '../../src/render/templates.ts';
import { loadCluster } from '../../src/config/index.ts';
import type { BaseLayout } from '../../src/image/probe.ts';
import { ROOT } from '../helpers.ts';
import { join } from 'node:path';

const cluster = await loadCluster(join(ROOT, 'images.config.ts'));
const env = createEnvironment(await loadTemplates());
const cp01 = cluster.nodes.find((n) => n.config.hostname === 'cp01')!;

/** The layout stage script cp01's seed would run, with another layout swapped in. */
function script(layout: unknown): string {
  const node = { ...cp01, profile: { ...cp01.profile, layout: Layout.parse(layout) } };
  return renderTemplate(env, 'scripts/layout.sh.njk', seedContext(cluster, node));
}

function stagePlan(layout: unknown, diskSectors: number, rootStart: number): { code: number; lines: string[]; stderr: string } {
  const r = spawnSync('sh', ['-c', script(layout)], {
    encoding: 'utf8',
    env: { PATH: process.env['PATH'], IMGFORGE_LAYOUT_PLAN_ONLY: '1', IMGFORGE_DISK_SECTORS: String(diskSectors), IMGFORGE_ROOT_START: String(rootStart) },
  });
  return { code: r.status ?? -1, lines: r.stdout.trim().split('\n').filter(Boolean), stderr: r.stderr };
}

/** A Hardkernel-like base: BOOT at 2048, root after it; what planImage lays out from. */
const base: BaseLayout = {
  table: 'mbr', sizeBytes: 400 * 2 ** 20,
  partitions: [
    { number: 1, firstLba: 2048, lastLba: 133119, type: '0x83', uniqueGuid: null, partlabel: '', attributes: 0n, fs: 'ext2', label: 'BOOT' },
    { number: 2, firstLba: 133120, lastLba: 819199, type: '0x83', uniqueGuid: null, partlabel: '', attributes: 0n, fs: 'ext4', label: 'rootfs' },
  ],
};

function imagePlan(layout: unknown, diskBytes: number): string[] {
  const profile = { ...cp01.profile, layout: Layout.parse(layout) };
  const plan = planImage({ cluster: 'homelab', node: 'cp01', basePath: 'base.img', base, profile, diskBytes });
  return plan.partitions.filter((p) => p.role === 'root' || p.role === 'reserved')
    .map((p) => `${p.role === 'root' ? 'root' : p.name} ${p.firstLba} ${p.lastLba}`);
}

const TB = 1e12;
const cases: [string, unknown, number][] = [
  ['half root, ceph takes the rest (the main scenario), 1 TB SSD', { root: { size: '50%' }, reserved: [{ name: 'ceph', size: 'rest' }] }, TB],
  ['fixed root, Longhorn ext4 takes the rest, 256 GB', { root: { size: '64GiB' }, reserved: [{ name: 'longhorn', size: 'rest', format: 'ext4', mountpoint: '/var/lib/longhorn' }] }, 256e9],
  ['root takes the rest before two fixed partitions', { root: { size: 'rest' }, reserved: [{ name: 'a', size: '10GiB' }, { name: 'b', size: '5%' }] }, 500e9],
  ['fractional shares, leaving the end free for wear levelling', { root: { size: '33.3%' }, reserved: [{ name: 'ceph', size: '55.5%' }] }, 120e9],
  ['root only', { root: { size: 'rest' } }, 32e9],
];

for (const [name, layout, diskBytes] of cases) {
  test(`layout stage plan = build-time plan: ${name}`, () => {
    const expected = imagePlan(layout, diskBytes);
    const rootStart = Number(expected[0]!.split(' ')[1]);
    const r = stagePlan(layout, Math.floor(diskBytes / 512), rootStart);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.lines, expected);
    for (const line of r.lines.slice(1)) {
      const [, start] = line.split(' ').map(Number);
      assert.equal(start! % 2048, 0, `${line}: reserved partitions start on 1 MiB boundaries`);
    }
    const end = Number(r.lines.at(-1)!.split(' ')[2]);
    assert.ok(end <= Math.floor(diskBytes / 512) - 34, 'room is left for the backup GPT');
  });
}

test('a disk too small for the layout fails the stage with the sizes, never shrinking root', () => {
  const r = stagePlan({ root: { size: '64GiB' }, reserved: [{ name: 'ceph', size: '64GiB' }] }, (100e9) / 512, 198656);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the layout needs 131072 MiB after root's start but the disk has \d+ MiB/);
});

test('the full layout stage passes shellcheck and carries the declared layout', () => {
  const text = script({ root: { size: '50%' }, reserved: [{ name: 'ceph', size: 'rest' }, { name: 'longhorn', size: '100GiB', format: 'ext4', mountpoint: '/var/lib/longhorn' }] });
  assert.match(text, /^ROOT_SIZE='basis-points 5000'$/m);
  assert.match(text, /^RESERVED='ceph rest 0 raw -\nlonghorn sectors 209715200 ext4 \/var\/lib\/longhorn'$/m);
  const r = spawnSync('shellcheck', ['--shell=sh', '-'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout);
});

test('the layout stage runs first in the background unit and on later boots; cloud-init never grows root', async () => {
  const { planCluster } = await import('../../src/plan/index.ts');
  const { seeds } = planCluster(cluster, ['cp01'], await loadTemplates(), 'test');
  const ud = parseYaml(seeds.get('cp01')!.find((f) => f.name === 'user-data')!.content) as
    { bootcmd: [string, ...string[][]]; growpart: unknown; resize_rootfs: unknown; runcmd: string[][] };
  const [files, ...rest] = ud.bootcmd;
  assert.match(files, /^sh -s imgforge-files /);
  assert.deepEqual(rest.map((c) => c.at(-1)), ['imgforge-identity', 'imgforge-resume', 'imgforge-later-boot']);
  assert.deepEqual(rest[0]!.slice(0, 3), ['cloud-init-per', 'instance', 'imgforge-identity']);
  assert.match(rest[1]![2]!, /--unit=imgforge-stages --nice=10 \/usr\/local\/sbin\/imgforge-stage --no-finish layout prepare;/);
  assert.match(rest[2]![2]!, /\/usr\/local\/sbin\/imgforge-stage --later-boot layout; fi$/);
  assert.deepEqual(ud.runcmd, [['/usr/local/sbin/imgforge-stage', 'layout', 'prepare']]);
  // growpart would take the disk up to its end before the reserved partitions exist.
  assert.deepEqual(ud.growpart, { mode: 'off' });
  assert.equal(ud.resize_rootfs, false);
});
