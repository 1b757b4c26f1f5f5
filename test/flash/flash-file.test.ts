// imgforge flash to regular files: only mapped ranges written and checked, the backup GPT at the
// target's end, stale metadata gone, refusals that write nothing, and bmaptool as the yardstick.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, ftruncateSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readFlashImage, readTarget } from '../../src/execute/flash-read.ts';
import { applyFlash } from '../../src/execute/flash.ts';
import { planFlash } from '../../src/plan/flash.ts';
import { cli, requireTool, tempDir } from '../helpers.ts';
import { MIB, smallImage } from './fixtures.ts';

const NO_CONFIG = ['--config', '/nonexistent/images.config.ts'];
const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');
const bytesAt = (f: string, offset: number, length: number): Buffer => {
  const fd = openSync(f, 'r');
  try { const b = Buffer.alloc(length); readSync(fd, b, 0, length, offset); return b; } finally { closeSync(fd); }
};
const sgdiskOk = (f: string): void => assert.match(execFileSync('sgdisk', ['-v', f], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }), /No problems found/);
let dir = '', image = '';

before(async () => {
  if (!['sgdisk', 'mkfs.fat', 'mke2fs', 'blkid', 'filefrag'].every(requireTool)) return;
  dir = tempDir('imgforge-flash-');
  ({ image } = await smallImage(dir));
});

test('a new file gets the image byte for byte, the same as bmaptool copy gives; only mapped ranges and metadata zeros are written', { skip: !requireTool('bmaptool') && 'bmaptool missing' }, async () => {
  const out = join(dir, 'new.img');
  const r = await cli([...NO_CONFIG, 'flash', image, out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; writtenBytes?: number; mappedBytes?: number; phase?: string });
  assert.deepEqual([events[0]!.event, events.at(-1)!.event], ['plan', 'done']);
  assert.ok(events.some((e) => e.phase === 'verify'), 'read back by default');
  const done = events.at(-1)!;
  assert.ok(done.writtenBytes! < statSync(image).size / 4, `wrote ${done.writtenBytes} of a ${statSync(image).size}-byte image`);
  assert.ok(done.writtenBytes! >= done.mappedBytes!);
  assert.equal(sha(out), sha(image));
  sgdiskOk(out);
  const theirs = join(dir, 'bmaptool.img');
  execFileSync('bmaptool', ['copy', '--bmap', `${image}.bmap`, image, theirs], { stdio: 'pipe' });
  assert.equal(sha(out), sha(theirs));
});

test('a larger file with an old table and signatures: refused without --wipe (nothing written), then the backup GPT at its end and no stale signature', async () => {
  const out = join(dir, 'old-drive.img');
  const fd = openSync(out, 'w');
  ftruncateSync(fd, 256 * MIB);
  closeSync(fd);
  // The old drive: a GPT for all 256 MiB with ext4 "ceph-old" at 100 MiB, beyond the image and where nothing of it lands.
  execFileSync('sgdisk', ['-n', '1:2048:+64M', '-n', '2:204800:+32M', '-c', '2:osd', out], { stdio: 'pipe' });
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-L', 'ceph-old', '-E', `offset=${204800 * 512}`, out, '32M'], { stdio: 'pipe' });
  const before = sha(out);
  const refused = await cli([...NO_CONFIG, 'flash', image, out]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /Nothing was written to .*old-drive\.img.*holds data: ext4 "ceph-old" on partition 2; pass --wipe/s);
  assert.equal(sha(out), before, 'a refusal writes nothing');
  const r = await cli([...NO_CONFIG, 'flash', image, out, '--wipe']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(statSync(out).size, 256 * MIB);
  sgdiskOk(out);
  assert.match(execFileSync('sgdisk', ['-p', out], { encoding: 'utf8' }), /last usable sector is 524254/);
  assert.equal(execFileSync('sh', ['-c', `blkid -p -O ${204800 * 512} "$1" || true`, 'sh', out], { encoding: 'utf8' }), '', 'the old file system signature is zeroed');
  const body = 64 * MIB - 33 * 512; // the image's own backup GPT is not copied: the drive's is at its end
  assert.ok(bytesAt(out, 34 * 512, body - 34 * 512).equals(bytesAt(image, 34 * 512, body - 34 * 512)), 'the image\'s bytes between its GPTs');
  assert.ok(bytesAt(out, body, 33 * 512).every((b) => b === 0), 'where the image kept its backup GPT is zero');
});

test('an image whose bytes do not match its bmap stops the flash with the range named, leaving the first MiB zero', async () => {
  const bad = join(dir, 'bad.img');
  copyFileSync(image, bad);
  copyFileSync(`${image}.bmap`, `${bad}.bmap`);
  // A byte inside root's file system data, which the bmap maps.
  const at = 67584 * 512 + 1024 + 56; // ext4 magic
  const fd = openSync(bad, 'r+');
  writeSync(fd, Buffer.from([0x00]), 0, 1, at);
  closeSync(fd);
  const out = join(dir, 'bad-target.img');
  const r = await cli([...NO_CONFIG, 'flash', bad, out]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /The image does not match its block map: .*bad\.img: blocks \d+-\d+ have SHA-256 [0-9a-f]{64}, the bmap says [0-9a-f]{64}/);
  assert.ok(bytesAt(out, 0, MIB).every((b) => b === 0), 'no partition table');
});

test('an image without its .bmap, or with a damaged one, is refused before anything is written', async () => {
  const lone = join(dir, 'lone.img');
  copyFileSync(image, lone);
  const r = await cli([...NO_CONFIG, 'flash', lone, join(dir, 'never.img')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /The image has no usable block map: .*lone\.img: there is no .*lone\.img\.bmap/);
  copyFileSync(`${image}.bmap`, `${lone}.bmap`);
  const text = readFileSync(`${lone}.bmap`, 'utf8').replace(/<ImageSize> (\d+) </, (_, n: string) => `<ImageSize> ${Number(n) + 4096} <`);
  execFileSync('sh', ['-c', 'cat > "$1"', 'sh', `${lone}.bmap`], { input: text });
  const d = await cli([...NO_CONFIG, 'flash', lone, join(dir, 'never.img')]);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /BmapFileChecksum is wrong/);
  assert.ok(!existsSync(join(dir, 'never.img')));
});

test('interrupted mid-write: the drive is left with a zero first MiB and no backup GPT (no table, nothing boots a half image)', async () => {
  const out = join(dir, 'cut.img');
  copyFileSync(image, out); // a complete earlier flash: its table must not survive a cut one
  const t = await readTarget(out, image);
  const plan = planFlash(readFlashImage(image, null), t.target, t.host, t.contents, t.fileBytes, { wipe: true, verify: true, yes: true, canAsk: false });
  const abort = new AbortController();
  await assert.rejects(applyFlash(plan, { signal: abort.signal, onProgress: (phase, done) => { if (phase === 'write' && done > 0) abort.abort(new Error('cut')); } }), /cut/);
  assert.ok(bytesAt(out, 0, MIB).every((b) => b === 0));
  assert.ok(bytesAt(out, 64 * MIB - 33 * 512, 33 * 512).every((b) => b === 0), 'the old backup GPT, which the kernel would fall back to, is gone');
});

test('--map writes several targets at once, each verified; a drive named twice is a bad flag', async () => {
  const [a, b] = [join(dir, 'map-a.img'), join(dir, 'map-b.img')];
  const r = await cli([...NO_CONFIG, 'flash', '--map', `${image}=${a},${image}=${b}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /map-a\.img: wrote .*verified/);
  assert.match(r.stdout, /map-b\.img: wrote .*verified/);
  assert.equal(sha(a), sha(image));
  assert.equal(sha(b), sha(image));
  const twice = await cli([...NO_CONFIG, 'flash', '--map', `${image}=${a},${image}=${a}`]);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /--map names .*map-a\.img twice/);
  rmSync(a); rmSync(b);
});

test('a missing device under /dev is not created as a file (bmaptool#55)', async () => {
  const r = await cli([...NO_CONFIG, 'flash', image, '/dev/sdz-no-such']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Not a flash target: \/dev\/sdz-no-such: there is no such device/);
  assert.ok(!existsSync('/dev/sdz-no-such'));
});
