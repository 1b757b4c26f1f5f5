import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { imgforgeError } from '../errors/error.ts';
import { exists, urlKey, type Base, type BaseSource } from './cache.ts';
import { download, type DownloadOptions } from './download.ts';
import { findSha256, sha256File } from './checksum.ts';
import { toRawImage } from './decompress.ts';

export interface FetchOptions extends DownloadOptions {
  readonly cacheDir: string;
  readonly allowUnverified: boolean;
}

async function expectedHash(src: BaseSource, opts: FetchOptions): Promise<string | undefined> {
  if (src.sha256) return src.sha256;
  if (!src.sha256sums) return undefined;
  const sumsFile = join(opts.cacheDir, 'downloads', `${urlKey(src.sha256sums)}.SHA256SUMS`);
  // The sums file changes with every image build: fetch it fresh each time, never from cache.
  await rm(sumsFile, { force: true });
  await download(src.sha256sums, sumsFile, { ...opts, onProgress: undefined });
  const name = basename(new URL(src.url).pathname);
  const hash = findSha256(await readFile(sumsFile, 'utf8'), name);
  await rm(sumsFile, { force: true });
  if (!hash) throw imgforgeError('Unverified', { what: src.url, reason: `${src.sha256sums} lists no ${name}` });
  return hash;
}

/**
 * Get a verified base into the cache. Downloads resume; only a file whose SHA-256 matched is
 * stored under blobs/<sha256>, so an interrupted or corrupt download never poisons the cache.
 */
export async function fetchBase(src: BaseSource, opts: FetchOptions): Promise<Base> {
  for (const dir of ['downloads', 'blobs', 'raw']) await mkdir(join(opts.cacheDir, dir), { recursive: true, mode: 0o700 });
  const expected = await expectedHash(src, opts);
  if (!expected && !opts.allowUnverified) {
    throw imgforgeError('Unverified', { what: src.url, reason: src.unverifiedReason ?? 'the profile pins no sha256 and names no SHA256SUMS' });
  }
  let blob = expected ? join(opts.cacheDir, 'blobs', expected) : undefined;
  let sha256 = expected;
  if (!blob || !(await exists(blob))) {
    const fetched = join(opts.cacheDir, 'downloads', urlKey(src.url));
    await download(src.url, fetched, opts);
    const actual = await sha256File(fetched);
    if (expected && actual !== expected) {
      await rm(fetched, { force: true });
      throw imgforgeError('ChecksumMismatch', { what: src.url, expected, actual });
    }
    sha256 = actual;
    blob = join(opts.cacheDir, 'blobs', actual);
    await rename(fetched, blob);
  }
  const raw = join(opts.cacheDir, 'raw', `${sha256}.img`);
  if (!(await exists(raw))) await toRawImage(blob, raw);
  // Which verified file this URL gave, so `imgforge plan` can find it again without the network.
  if (expected) {
    await mkdir(join(opts.cacheDir, 'urls'), { recursive: true, mode: 0o700 });
    await writeFile(join(opts.cacheDir, 'urls', urlKey(src.url)), expected, { mode: 0o600 });
  }
  return { raw, sha256: sha256!, verified: expected !== undefined };
}

export { defaultCacheDir, type Base, type BaseSource } from './cache.ts';
