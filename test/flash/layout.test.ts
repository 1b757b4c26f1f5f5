// The final layout at flash time: `imgforge flash <node> <drive>` builds the node's compact image
// when it is missing and writes the table its layout gives for the drive's real size, the same
// table `build --disk-size` writes for that size (one planner, plan/image.ts layOnDisk).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeGpt } from '../../src/image/gpt.ts';
import { PENDING_TYPE } from '../../src/plan/image.ts';
import { e2fsckReadOnly } from '../../src/tools/ext4.ts';
import { cli, requireTool, ROOT, tempDir } from '../helpers.ts';
import { ubuntuLikeBase } from '../fixtures/bases.ts';

const GIB = 2 ** 30;

/** The minimal cluster, n1 with a declared root and a raw OSD partition taking the rest. */
function config(dir: string, reserved = "[{ name: 'osd', size: 'rest' }]", name = 'images.config.mjs'): string {
  const text = readFileSync(join(ROOT, 'test/fixtures/minimal.config.mjs'), 'utf8').replace(
    "mac: '52:54:00:50:00:11' }", `mac: '52:54:00:50:00:11', layout: { root: { size: '256MiB' }, reserved: ${reserved} } }`);
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

const table = (file: string, bytes: number): ReturnType<typeof decodeGpt> => {
  const fd = openSync(file, 'r');
  try {
    return decodeGpt((o, l) => { const b = Buffer.alloc(l); readSync(fd, b, 0, l, o); return b; }, bytes);
  } finally { closeSync(fd); }
};

test('flash <node> builds the image, then lays it out for the drive: the same table as build --disk-size, backup GPT at the end', async () => {
  if (!['sgdisk', 'mkfs.fat', 'debugfs', 'blkid'].every(requireTool)) return;
  const dir = tempDir('imgforge-flash-layout-');
  const base = ubuntuLikeBase(dir, 240);
  const cfg = config(dir);
  const drive = join(dir, 'drive.img');
  const fd = openSync(drive, 'w');
  ftruncateSync(fd, GIB);
  closeSync(fd);
  const common = ['--config', cfg, '--base', base, '--cache-dir', join(dir, 'cache')];
  const r = await cli(['--config', cfg, 'flash', 'n1', drive, '--out', join(dir, 'out'), '--base', base, '--cache-dir', join(dir, 'cache')]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(dir, 'out/n1.img')), 'built first');
  assert.match(r.stderr, /table from node layout/);
  assert.match(execFileSync('sgdisk', ['-v', drive], { encoding: 'utf8' }), /No problems found/);
  const b = await cli(['build', 'n1', '--out', join(dir, 'sized'), '--disk-size', String(GIB), ...common]);
  assert.equal(b.code, 0, b.stderr);
  const flashed = table(drive, GIB), built = table(join(dir, 'sized/n1.img'), GIB);
  assert.deepEqual(flashed.partitions, built.partitions);
  assert.equal(flashed.diskGuid, built.diskGuid);
  assert.equal(flashed.alternateLba, GIB / 512 - 1);
  const osd = flashed.partitions.find((p) => p.name === 'osd')!;
  assert.equal(osd.typeGuid, PENDING_TYPE, 'the first boot wipes it, as it does after build --disk-size');
  assert.equal(osd.lastLba, GIB / 512 - 34 - 1 - ((GIB / 512 - 34) % 2048), 'the OSD takes the rest, to the last aligned sector');
  // The root file system came across whole.
  const root = flashed.partitions.find((p) => p.typeGuid === '0FC63DAF-8483-4772-8E79-3D69D8477DE4' && p.name !== 'osd')!;
  await e2fsckReadOnly(drive, root.firstLba * 512);

  // The config's layout changed since the build: the image's seed still carries the old one, so no table is guessed.
  const changed = config(dir, "[{ name: 'osd', size: '50%' }]", 'changed.config.mjs');
  const stale = await cli(['--config', changed, 'flash', join(dir, 'out/n1.img'), drive, '--wipe']);
  assert.equal(stale.code, 2, stale.stderr);
  assert.match(stale.stderr, /n1\.img was built for the layout root 256MiB, osd rest; the config now says root 256MiB, osd 50%: rebuild it/);
});
