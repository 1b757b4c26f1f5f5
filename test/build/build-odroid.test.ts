// Images for the ODROID boards from their two base shapes: Ubuntu 24.04's arm64 cloud image (the
// default profiles: GPT, ESP at 1 MiB; the M2's U-Boot on the medium moves the ESP and /boot up to
// 16 MiB) and Hardkernel's 20.04 image (MBR, U-Boot bytes kept). Each built from the bundled
// example's nodes, with a synthetic base of the real shape.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, requireTool, ROOT, tempDir } from '../helpers.ts';
import { hardkernelLikeBase, ubuntuArm64LikeBase } from '../fixtures/bases.ts';
import { extCat, extHas, partitions, partNamed, readRange, run, tools } from './image-read.ts';

/** The bundled example with its ODROID nodes changed by `nodes` (a JS expression over `n`), from a folder of its own. */
function example(dir: string, nodes: string, cluster = ''): string {
  const file = join(dir, 'images.config.ts');
  writeFileSync(file, `import base from ${JSON.stringify(join(ROOT, 'images.config.ts'))};
export default { ...base, cluster: { ...base.cluster${cluster} }, nodes: base.nodes.map((n) => n.board.startsWith('odroid') ? (${nodes}) : n) };\n`);
  return file;
}

describe('build from an Ubuntu arm64 cloud image shaped base for the default ODROID profiles', { concurrency: false }, () => {
  let dir = '', base = '', out = '';
  const loader = Buffer.alloc(9 * 2 ** 20 + 12345);
  before(async () => {
    if (!tools.every(requireTool)) return;
    dir = tempDir();
    base = ubuntuArm64LikeBase(dir);
    out = join(dir, 'out');
    // u-boot-rockchip.bin: idbloader at its start, u-boot.itb at 8 MiB - 32 KiB (binman), so past 8 MiB on the disk.
    for (let i = 0; i < loader.length; i++) loader[i] = (i * 29 + 3) & 0xff;
    writeFileSync(join(dir, 'u-boot-rockchip.bin'), loader);
    const config = example(dir, "n.board === 'odroid-m2' ? { ...n, overrides: { boot: { blobs: [{ file: 'u-boot-rockchip.bin', offsetBytes: 32768 }] } } } : n");
    const r = await cli(['--config', config, 'build', 'cp01', 'worker02', '--base', base, '--out', out, '--cache-dir', join(dir, 'cache')]);
    assert.equal(r.code, 0, r.stderr);
  });

  test('the M1 keeps the ESP and /boot where the base has them; every table passes sgdisk -v and every file system its fsck', () => {
    const img = join(out, 'cp01.img');
    const parts = partitions(img);
    assert.deepEqual(parts.filter((p) => ['15', '16'].includes(p.node.slice(img.length))).map((p) => p.start), [2048, 206848]);
    for (const node of ['cp01', 'worker02']) {
      const image = join(out, `${node}.img`);
      assert.match(run('sgdisk', ['-v', image]), /No problems found/);
      const esp = partitions(image).find((p) => p.type === 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B')!;
      const fat = join(dir, `${node}.esp`);
      writeFileSync(fat, readRange(image, esp.start * 512, esp.size * 512));
      run('fsck.fat', ['-n', fat]);
      run('e2fsck', ['-fn', `${image}?offset=${partitions(image).find((p) => p.node === `${image}1`)!.start * 512}`]);
    }
  });

  test('the M2 carries its U-Boot at 32 KiB; the ESP and /boot moved up to 16 MiB whole, their bytes unchanged, root after CIDATA', () => {
    const img = join(out, 'worker02.img');
    assert.ok(readRange(img, 32768, loader.length).equals(loader), 'the blob, byte for byte');
    const parts = partitions(img);
    const at = (n: string) => parts.find((p) => p.node === `${img}${n}`)!;
    assert.deepEqual([at('15').start, at('16').start], [32768, 32768 + (206848 - 2048)], 'moved together, their distance kept');
    assert.ok(Math.min(...parts.map((p) => p.start)) * 512 >= 32768 + loader.length, 'no partition overlaps the loader');
    for (const [n, from, sectors] of [['15', 2048, 204800 - 2048 + 1], ['16', 206848, 358399 - 206848 + 1]] as const) {
      assert.ok(readRange(img, at(n).start * 512, sectors * 512).equals(readRange(base, from * 512, sectors * 512)), `partition ${n}: the base's bytes`);
    }
    assert.equal(extCat(img, at('16').start * 512, '/vmlinuz'), 'kernel'.repeat(1000));
    const cidata = parts.find((p) => p.name === 'cidata')!, root = at('1');
    assert.ok(cidata.start > at('16').start && root.start > cidata.start);
    const m = JSON.parse(readFileSync(join(out, 'worker02.manifest.json'), 'utf8')) as { image: { keepBootArea: { fromByte: number; toByte: number } | null } };
    assert.deepEqual(m.image.keepBootArea, { fromByte: 34 * 512, toByte: 2048 * 512 }, 'only what the base had before its first partition');
  });
});

describe('build from a Hardkernel-shaped base (MBR) for the ODROID boards\' Hardkernel profiles', { concurrency: false }, () => {
  let dir = '', base = '', out = '', config = '';
  let bootArea: Buffer = Buffer.alloc(0);
  before(async () => {
    if (!tools.every(requireTool)) return;
    dir = tempDir();
    ({ image: base, bootArea } = hardkernelLikeBase(dir));
    out = join(dir, 'out');
    config = example(dir, "{ ...n, board: n.board + '-hardkernel' }");
    const r = await cli(['--config', config, 'build', 'cp01', 'worker02', '--base', base, '--out', out, '--cache-dir', join(dir, 'cache'), '--disk-size', '2GiB', '--force']);
    assert.equal(r.code, 0, r.stderr);
  });

  test('check refuses them for the example\'s Kubernetes 1.35 and Cilium 1.19, naming the default profiles', async () => {
    const r = await cli(['--config', config, 'check', '--json']);
    assert.equal(r.code, 1);
    const errors = (JSON.parse(r.stdout) as { findings: { id: string; severity: string; hint?: string }[] }).findings.filter((f) => f.severity === 'error');
    assert.deepEqual([...new Set(errors.map((f) => f.id))].sort(), ['base-cgroup-v1', 'base-kernel-cni']);
    assert.ok(errors.some((f) => /^Use board 'odroid-m1' /.test(f.hint ?? '')) && errors.some((f) => /^Use board 'odroid-m2' /.test(f.hint ?? '')));
  });

  test('the quirk files are removed from root and nothing else changes', () => {
    for (const node of ['cp01', 'worker02']) {
      const img = join(out, `${node}.img`);
      const root = partNamed(img, 'root').start * 512;
      for (const f of ['/etc/cloud/cloud-init.disabled', '/etc/growroot-disabled', '/root/firstboot.sh']) assert.ok(!extHas(img, root, f), `${node}: ${f} removed`);
      const baseRoot = partitions(base)[1]!.start * 512;
      for (const f of ['/etc/hostname', '/usr/bin/tool', '/var/lib/data.bin']) assert.equal(extCat(img, root, f), extCat(base, baseRoot, f));
      run('e2fsck', ['-fn', `${img}?offset=${root}`]);
      const m = JSON.parse(readFileSync(join(out, `${node}.manifest.json`), 'utf8')) as { steps: string[] };
      assert.ok(m.steps.includes('removed /root/firstboot.sh'));
    }
  });

  test('GPT out, partition 1 stays BOOT (Petitboot boots from it) and is marked legacy-bootable', () => {
    const img = join(out, 'cp01.img');
    assert.match(run('sgdisk', ['-v', img]), /No problems found/);
    const p1 = partitions(img).find((p) => p.node === `${img}1`)!;
    assert.equal(p1.name, 'boot');
    assert.equal(p1.start, 2048);
    assert.match(run('sgdisk', ['-i', '1', img]), /Attribute flags: 0000000000000004/);
    assert.ok(readRange(img, 0, 440).every((b) => b === 0), 'no BIOS boot partition: no MBR boot code');
  });

  test('--disk-size writes the final table: root at its declared share, the raw ceph partition after it, backup GPT at the end', () => {
    const img = join(out, 'cp01.img');
    assert.equal(statSync(img).size, 2 * 2 ** 30);
    const root = partNamed(img, 'root'), ceph = partNamed(img, 'ceph');
    assert.equal((root.start + root.size) % 2048, 0, 'root ends on a MiB boundary');
    assert.equal(root.size * 512, 2 ** 30, 'root: 50% of the disk');
    assert.equal(ceph.start, root.start + root.size);
    assert.ok(ceph.start + ceph.size <= 2 * 2 ** 30 / 512 - 34);
    assert.doesNotMatch(run('sgdisk', ['-v', img]), /doesn't reside at the end/);
    const bmap = readFileSync(`${img}.bmap`, 'utf8');
    assert.match(bmap, new RegExp(`>\\s*${(ceph.start * 512) / 4096}-`), 'the head of the ceph partition is mapped, so flashing zeroes stale signatures');
  });

  test('both ODROID images keep the base\'s U-Boot area (an M1 without SPI firmware boots from it too), and nothing past it', () => {
    const area = (f: string): Buffer => readRange(f, 64 * 512, bootArea.length);
    assert.ok(area(join(out, 'worker02.img')).equals(bootArea));
    assert.ok(area(join(out, 'cp01.img')).equals(bootArea));
    for (const node of ['cp01', 'worker02']) {
      const m = JSON.parse(readFileSync(join(out, `${node}.manifest.json`), 'utf8')) as { image: { keepBootArea: { fromByte: number; toByte: number } } };
      assert.deepEqual(m.image.keepBootArea, { fromByte: 34 * 512, toByte: 2048 * 512 }, `${node}: up to the base's first partition`);
    }
  });
});

