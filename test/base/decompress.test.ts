import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { detectContainer, toRawImage } from '../../src/base/decompress.ts';
import { requireTool, tempDir } from '../helpers.ts';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** 8 MiB, mostly zeros: the shape of a disk image. */
function diskLike(): Buffer {
  const img = Buffer.alloc(8 << 20);
  randomBytes(4096).copy(img, 0);
  randomBytes(10_000).copy(img, 3 << 20);
  randomBytes(4096).copy(img, (8 << 20) - 4096);
  return img;
}

test('gzip, zstd, xz and qcow2 bases become identical sparse raw images', async () => {
  const dir = tempDir();
  const img = diskLike();
  const raw = join(dir, 'disk.raw');
  writeFileSync(raw, img);
  const inputs: [string, string][] = [['gzip', join(dir, 'd.gz')], ['zstd', join(dir, 'd.zst')]];
  writeFileSync(inputs[0]![1], gzipSync(img));
  writeFileSync(inputs[1]![1], zstdCompressSync(img));
  if (requireTool('xz')) {
    spawnSync('xz', ['-k', '-T1', raw]);
    inputs.push(['xz', `${raw}.xz`]);
  }
  if (requireTool('qemu-img')) {
    spawnSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, join(dir, 'd.qcow2')]);
    inputs.push(['qcow2', join(dir, 'd.qcow2')]);
  }
  for (const [kind, file] of inputs) {
    assert.equal(await detectContainer(file), kind);
    const out = join(dir, `${kind}.img`);
    assert.equal(await toRawImage(file, out), kind);
    assert.equal(sha(readFileSync(out)), sha(img), kind);
    const st = statSync(out);
    assert.equal(st.size, img.length);
    assert.ok(st.blocks * 512 < img.length / 2, `${kind}: holes are skipped (${st.blocks * 512} bytes allocated)`);
  }
});

test('a truncated compressed base is a clear error and leaves no output', async () => {
  const dir = tempDir();
  const zst = zstdCompressSync(diskLike());
  writeFileSync(join(dir, 'cut.zst'), zst.subarray(0, zst.length >> 1));
  const out = join(dir, 'cut.img');
  await assert.rejects(toRawImage(join(dir, 'cut.zst'), out), (e: Error & { code?: string }) => e.code === 'BaseInvalid' && /zstd/.test(e.message));
  assert.throws(() => statSync(out));
  if (requireTool('xz')) {
    const raw = join(dir, 'x.raw');
    writeFileSync(raw, diskLike());
    spawnSync('xz', ['-k', raw]);
    const xz = readFileSync(`${raw}.xz`);
    writeFileSync(join(dir, 'cut.xz'), xz.subarray(0, xz.length >> 1));
    await assert.rejects(toRawImage(join(dir, 'cut.xz'), join(dir, 'cutx.img')), (e: Error & { code?: string }) => e.code === 'BaseInvalid');
    assert.throws(() => statSync(join(dir, 'cutx.img')));
  }
});
