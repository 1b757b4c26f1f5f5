/**
 * renderBmap checked by bmaptool itself: `bmaptool copy` verifies the file checksum and every
 * range checksum, and copies only the mapped blocks. Skipped without bmaptool, failed under CI.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { requireTool, tempDir } from '../../helpers.ts';
import { parseBmap, renderBmap, type BmapRange } from '../../../src/image/bmap.ts';

const BLOCK = 4096;
const IMAGE_BYTES = 2 ** 20 + 1000; // 257 blocks, the last one partial
const skip = requireTool('bmaptool') ? false : 'bmaptool is not installed';

const dir = tempDir('imgforge-bmap-');
after(() => rmSync(dir, { recursive: true, force: true }));
const image = join(dir, 'disk.img');

/** Distinct, non-zero bytes for block n, so a block copied to the wrong place would show. */
const blockData = (n: number, bytes = BLOCK): Buffer => Buffer.alloc(bytes, `imgforge block ${n};`);

/** Data blocks as [first, last] ranges; block 256 holds the image's last 1000 bytes. */
const DATA: readonly (readonly [number, number])[] = [[0, 0], [10, 12], [100, 100], [256, 256]];

function makeImage(): void {
  writeFileSync(image, '');
  truncateSync(image, IMAGE_BYTES);
  const fd = openSync(image, 'r+');
  for (const [first, last] of DATA) {
    for (let n = first; n <= last; n++) {
      const data = blockData(n, Math.min(BLOCK, IMAGE_BYTES - n * BLOCK));
      writeSync(fd, data, 0, data.length, n * BLOCK);
    }
  }
  closeSync(fd);
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const content = (): Buffer => readFileSync(image);
const ranges = (pairs: readonly (readonly [number, number])[]): BmapRange[] =>
  pairs.map(([first, last]) => ({ first, last, sha256: sha256(content().subarray(first * BLOCK, (last + 1) * BLOCK)) }));

function copy(bmapText: string, name: string): { status: number | null; output: string; target: string } {
  const bmap = join(dir, `${name}.bmap`);
  const target = join(dir, `${name}.copy`);
  writeFileSync(bmap, bmapText);
  const r = spawnSync('bmaptool', ['copy', '--bmap', bmap, image, target], { encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr, target };
}

test('bmaptool copy accepts the rendered bmap and reproduces the image', { skip }, () => {
  makeImage();
  const r = copy(renderBmap({ imageSize: IMAGE_BYTES, blockSize: BLOCK, ranges: ranges(DATA) }), 'good');
  assert.equal(r.status, 0, r.output);
  assert.equal(sha256(readFileSync(r.target)), sha256(content()));
});

test('bmaptool copy writes only the mapped blocks', { skip }, () => {
  makeImage();
  const r = copy(renderBmap({ imageSize: IMAGE_BYTES, blockSize: BLOCK, ranges: ranges(DATA.filter(([first]) => first !== 100)) }), 'partial');
  assert.equal(r.status, 0, r.output);
  const copied = readFileSync(r.target);
  assert.ok(copied.subarray(100 * BLOCK, 101 * BLOCK).equals(Buffer.alloc(BLOCK)), 'unmapped block 100 was not copied');
  assert.ok(copied.subarray(10 * BLOCK, 13 * BLOCK).equals(content().subarray(10 * BLOCK, 13 * BLOCK)));
});

test('a wrong range checksum makes bmaptool copy fail', { skip }, () => {
  makeImage();
  const tampered = ranges(DATA).map((r) => (r.first === 10 ? { ...r, sha256: sha256(Buffer.from('not these bytes')) } : r));
  const r = copy(renderBmap({ imageSize: IMAGE_BYTES, blockSize: BLOCK, ranges: tampered }), 'bad-range');
  assert.notEqual(r.status, 0);
  assert.match(r.output, /checksum mismatch for blocks range 10-12/);
});

test('an edited bmap fails its BmapFileChecksum', { skip }, () => {
  makeImage();
  const text = renderBmap({ imageSize: IMAGE_BYTES, blockSize: BLOCK, ranges: ranges(DATA) });
  const r = copy(text.replace('> 100 <', '> 101 <'), 'edited');
  assert.notEqual(r.status, 0);
  assert.match(r.output, /checksum mismatch for bmap file/);
});

test('bmaptool create maps the same ranges with the same checksums', { skip }, () => {
  makeImage();
  const r = spawnSync('bmaptool', ['create', image], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const theirs = parseBmap(r.stdout);
  const ours = parseBmap(renderBmap({ imageSize: IMAGE_BYTES, blockSize: BLOCK, ranges: ranges(DATA) }));
  assert.equal(theirs.bmapFileChecksumValid, true, 'parseBmap verifies a file bmaptool wrote');
  for (const key of ['version', 'imageSize', 'blockSize', 'blocksCount', 'mappedBlocksCount', 'checksumType', 'ranges'] as const) {
    assert.deepEqual(ours[key], theirs[key], key);
  }
});
