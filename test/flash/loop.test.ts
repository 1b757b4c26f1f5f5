// imgforge flash to a real block device: a loop device where the host allows one (root and
// /dev/loop-control), skipped with the reason otherwise. Each loop device made is detached.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, constants, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir, hasTool, ROOT } from '../helpers.ts';
import { ubuntuLikeBase } from '../fixtures/bases.ts';
import { MIB, smallImage } from './fixtures.ts';

const NO_CONFIG = ['--config', '/nonexistent/images.config.ts'];

function loopUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'loop devices need root';
  if (!existsSync('/dev/loop-control')) return 'no /dev/loop-control (a container without loop devices)';
  if (!['losetup', 'partx', 'sgdisk', 'mke2fs', 'mkfs.fat'].every(hasTool)) return 'losetup, partx, sgdisk or e2fsprogs missing';
  return false;
}

function attach(file: string): string {
  return execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
}

test('flash to a loop device: exclusive open, verified, the kernel sees the new partitions; refused while a partition is mounted or the drive is held', { skip: loopUnavailable() }, async () => {
  const dir = tempDir('imgforge-flash-loop-');
  const { image } = await smallImage(dir);
  const backing = join(dir, 'disk.img');
  const fd = openSync(backing, 'w');
  ftruncateSync(fd, 128 * MIB);
  closeSync(fd);
  const dev = attach(backing);
  const mnt = join(dir, 'mnt');
  let mounted = false;
  try {
    const r = await cli([...NO_CONFIG, 'flash', image, dev, '--yes']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${dev}: wrote .*read back and verified; partition table reread \\((blockdev --rereadpt|partx -u|partx -d, -a)\\)`));
    assert.match(execFileSync('sgdisk', ['-v', dev], { encoding: 'utf8' }), /No problems found/);
    assert.match(execFileSync('sgdisk', ['-p', dev], { encoding: 'utf8' }), /last usable sector is 262110/);
    assert.ok(existsSync(`${dev}p2`), 'the kernel knows partition 2');

    // Held exclusively by someone else (here: this process): EBUSY, exit 2, nothing written.
    const held = openSync(dev, constants.O_RDONLY | constants.O_EXCL);
    try {
      const busy = await cli([...NO_CONFIG, 'flash', image, dev, '--yes', '--wipe']);
      assert.equal(busy.code, 2, busy.stderr);
      assert.match(busy.stderr, new RegExp(`The drive is in use: ${dev} cannot be opened exclusively \\(EBUSY\\)`));
    } finally {
      closeSync(held);
    }

    // A mounted partition: refused from /proc/self/mountinfo before any open, naming it.
    mkdirSync(mnt);
    // ext4 can be mounted wherever the kernel has it; then the refusal must come from the mount.
    const ext4 = /\text4\n/.test(readFileSync('/proc/filesystems', 'utf8'));
    mounted = spawnSync('mount', ['-o', 'ro', `${dev}p2`, mnt]).status === 0;
    assert.ok(mounted || !ext4, `mount ${dev}p2 failed though the kernel has ext4`);
    if (mounted) {
      const m = await cli([...NO_CONFIG, 'flash', image, dev, '--yes', '--wipe']);
      assert.equal(m.code, 2, m.stderr);
      assert.match(m.stderr, new RegExp(`${dev} is mounted: ${dev.slice(5)}p2 at ${mnt}`));
    }
    const p = await cli([...NO_CONFIG, 'flash', image, `${dev}p1`, '--yes', '--wipe']);
    assert.equal(p.code, 2);
    assert.match(p.stderr, new RegExp(`${dev}p1 is a partition of ${dev.slice(5)}`));
  } finally {
    if (mounted) spawnSync('umount', [mnt]);
    // Partitions added through BLKPG outlive the loop device's backing file on some kernels.
    spawnSync('partx', ['-d', dev]);
    execFileSync('losetup', ['-d', dev]);
  }
});

test('inspect <drive> names the node, its seed and image, and finds a changed byte in a part that stays as flashed', { skip: loopUnavailable() }, async () => {
  const dir = tempDir('imgforge-inspect-loop-');
  const base = ubuntuLikeBase(dir, 240);
  const cfg = join(ROOT, 'test/fixtures/minimal.config.mjs');
  const out = join(dir, 'out');
  const b = await cli(['--config', cfg, 'build', 'n1', '--out', out, '--base', base, '--cache-dir', join(dir, 'cache')]);
  assert.equal(b.code, 0, b.stderr);
  const backing = join(dir, 'disk.img');
  const fd = openSync(backing, 'w');
  ftruncateSync(fd, 512 * MIB);
  closeSync(fd);
  const dev = attach(backing);
  try {
    const f = await cli(['--config', cfg, 'flash', join(out, 'n1.img'), dev, '--yes']);
    assert.equal(f.code, 0, f.stderr);
    const r = await cli(['inspect', dev, '--out', out, '--json']);
    assert.equal(r.code, 0, r.stdout);
    const got = JSON.parse(r.stdout) as { node: string; image: { sha256: string }; seed: { files: { name: string }[] }; parts: { part: string; verified: boolean }[] };
    const manifest = JSON.parse(readFileSync(join(out, 'n1.manifest.json'), 'utf8')) as { image: { sha256: string } };
    assert.equal(got.node, 'n1');
    assert.equal(got.image.sha256, manifest.image.sha256);
    assert.deepEqual(got.seed.files.map((x) => x.name).slice(0, 2), ['user-data', 'meta-data']);
    assert.deepEqual(got.parts.map((p) => p.part), ['boot area', '14 biosBoot', '15 esp', '16 boot', '2 cidata']);
    assert.ok(got.parts.every((p) => p.verified));
    // One byte of the ESP's FAT changed on the drive.
    const esp = JSON.parse(readFileSync(join(out, 'n1.manifest.json'), 'utf8')).image.partitions.find((p: { role: string }) => p.role === 'esp') as { offsetBytes: number };
    const w = openSync(dev, 'r+');
    writeSync(w, Buffer.from([0x5a]), 0, 1, esp.offsetBytes + 3);
    closeSync(w);
    const changed = await cli(['inspect', dev, '--out', out]);
    assert.equal(changed.code, 1);
    assert.match(changed.stdout, /15 esp: CHANGED/);
    assert.match(changed.stdout, /2 cidata: as flashed/);
  } finally {
    spawnSync('partx', ['-d', dev]);
    execFileSync('losetup', ['-d', dev]);
  }
});
