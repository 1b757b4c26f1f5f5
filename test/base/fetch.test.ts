import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { download } from '../../src/base/download.ts';
import { findSha256 } from '../../src/base/checksum.ts';
import { fetchBase } from '../../src/base/fetch.ts';
import { tempDir } from '../helpers.ts';
import { startServer } from './server.ts';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const quick = { retries: 3, retryDelayMs: 10 };

test('SHA256SUMS: Ubuntu binary-mode and coreutils text-mode lines', () => {
  const h = 'a'.repeat(64), g = 'b'.repeat(64);
  const sums = `${h} *noble-server-cloudimg-amd64.img\n${g}  other.img\n`;
  assert.equal(findSha256(sums, 'noble-server-cloudimg-amd64.img'), h);
  assert.equal(findSha256(sums, 'other.img'), g);
  assert.equal(findSha256(sums, 'missing.img'), undefined);
});

test('a dropped connection is resumed with a Range request, and the result is exact', async () => {
  const body = randomBytes(300_000);
  const server = await startServer({ '/base.img': { body, dropAfter: 100_000, dropTimes: 2 } });
  try {
    const dest = join(tempDir(), 'base.img');
    const seen: number[] = [];
    await download(`${server.url}/base.img`, dest, { ...quick, onProgress: (n) => seen.push(n) });
    assert.equal(sha(readFileSync(dest)), sha(body));
    const ranges = server.requests.map((r) => r.range);
    assert.equal(ranges[0], undefined);
    assert.ok(ranges.slice(1).some((r) => /^bytes=[1-9]\d*-$/.test(r ?? '')), `a later attempt resumes: ${JSON.stringify(ranges)}`);
    assert.equal(seen.at(-1), body.length);
    assert.ok(!existsSync(`${dest}.part`), 'no partial file left');
  } finally {
    await server.close();
  }
});

test('a server that ignores Range restarts the file instead of appending to it', async () => {
  const body = randomBytes(200_000);
  const server = await startServer({ '/b.img': { body, ignoreRange: true, dropAfter: 50_000 } });
  try {
    const dest = join(tempDir(), 'b.img');
    await download(`${server.url}/b.img`, dest, quick);
    assert.equal(sha(readFileSync(dest)), sha(body));
  } finally {
    await server.close();
  }
});

test('a 404 fails at once with the URL; a partial file is kept for the next run', async () => {
  const server = await startServer({});
  try {
    const dest = join(tempDir(), 'x.img');
    await assert.rejects(download(`${server.url}/x.img`, dest, quick), (e: Error & { code?: string }) => e.code === 'DownloadFailed' && /HTTP 404/.test(e.message));
    assert.equal(server.requests.length, 1, 'client errors are not retried');
    assert.ok(!existsSync(dest));
  } finally {
    await server.close();
  }
});

test('fetchBase: verified against SHA256SUMS, cached by hash, reused without a download', async () => {
  const body = Buffer.concat([randomBytes(8192), Buffer.alloc(1 << 20), randomBytes(4096)]);
  const sums = `${sha(body)} *base.img\n`;
  const server = await startServer({ '/base.img': { body }, '/SHA256SUMS': { body: Buffer.from(sums) } });
  const cacheDir = tempDir();
  try {
    const src = { url: `${server.url}/base.img`, sha256sums: `${server.url}/SHA256SUMS` };
    const base = await fetchBase(src, { cacheDir, allowUnverified: false, ...quick });
    assert.equal(base.sha256, sha(body));
    assert.ok(base.verified);
    assert.equal(sha(readFileSync(base.raw)), sha(body), 'raw base equals the download (no container)');
    const downloads = server.requests.filter((r) => r.path === '/base.img').length;
    await fetchBase(src, { cacheDir, allowUnverified: false, ...quick });
    assert.equal(server.requests.filter((r) => r.path === '/base.img').length, downloads, 'second fetch is a cache hit');
  } finally {
    await server.close();
  }
});

test('fetchBase: a wrong checksum is refused and leaves the cache as it was', async () => {
  const body = randomBytes(65_536);
  const server = await startServer({ '/base.img': { body } });
  const cacheDir = tempDir();
  try {
    const src = { url: `${server.url}/base.img`, sha256: 'f'.repeat(64) };
    await assert.rejects(fetchBase(src, { cacheDir, allowUnverified: false, ...quick }),
      (e: Error & { code?: string }) => e.code === 'ChecksumMismatch' && e.message.includes(sha(body)));
    assert.deepEqual(readdirSync(join(cacheDir, 'blobs')), [], 'nothing verified, nothing cached');
    assert.deepEqual(readdirSync(join(cacheDir, 'raw')), []);
    assert.deepEqual(readdirSync(join(cacheDir, 'downloads')), [], 'the bad file is not kept for resuming');
  } finally {
    await server.close();
  }
});

test('fetchBase: an unverifiable base is refused before downloading, unless allowed', async () => {
  const body = randomBytes(4096);
  const server = await startServer({ '/vendor.img': { body } });
  const cacheDir = tempDir();
  try {
    const src = { url: `${server.url}/vendor.img`, unverifiedReason: 'the vendor publishes no checksums' };
    await assert.rejects(fetchBase(src, { cacheDir, allowUnverified: false, ...quick }),
      (e: Error & { code?: string }) => e.code === 'Unverified' && /vendor publishes no checksums/.test(e.message));
    assert.equal(server.requests.length, 0);
    const base = await fetchBase(src, { cacheDir, allowUnverified: true, ...quick });
    assert.equal(base.verified, false);
    assert.equal(base.sha256, sha(body));
  } finally {
    await server.close();
  }
});

test('fetchBase: a local file: URL works like a mirror', async () => {
  const dir = tempDir();
  const body = randomBytes(10_000);
  writeFileSync(join(dir, 'local.img'), body);
  const base = await fetchBase({ url: `file://${join(dir, 'local.img')}`, sha256: sha(body) }, { cacheDir: join(dir, 'cache'), allowUnverified: false });
  assert.equal(sha(readFileSync(base.raw)), sha(body));
});
