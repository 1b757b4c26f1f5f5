import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { imgforgeError } from '../errors/error.ts';
import { download, type DownloadOptions } from './download.ts';
import { findSha256, sha256File } from './checksum.ts';
import { toRawImage } from './decompress.ts';

/** Where a base comes from, as the plan states it. */
export interface BaseSource {
  readonly url: string;
  readonly sha256?: string | undefined;
  readonly sha256sums?: string | undefined;
  readonly unverifiedReason?: string | undefined;
}

export interface FetchOptions extends DownloadOptions {
  readonly cacheDir: string;
  readonly allowUnverified: boolean;
}

export interface Base {
  /** Sparse raw image in the cache. */
  readonly raw: string;
  /** SHA-256 of the file as published (what the profile pins). */
  readonly sha256: string;
  readonly verified: boolean;
}

/** $IMGFORGE_CACHE_DIR, else $XDG_CACHE_HOME/imgforge, else ~/.cache/imgforge (XDG Base Directory spec). */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['IMGFORGE_CACHE_DIR'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'imgforge');
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);
const urlKey = (url: string): string => createHash('sha256').update(url).digest('hex').slice(0, 32);

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

/** A verified base this URL gave before, already converted, if the cache holds one. */
export async function cachedBase(src: BaseSource, cacheDir: string): Promise<Base | undefined> {
  const sha256 = src.sha256 ?? (await readFile(join(cacheDir, 'urls', urlKey(src.url)), 'utf8').catch(() => '')).trim();
  if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  const raw = join(cacheDir, 'raw', `${sha256}.img`);
  return (await exists(raw)) ? { raw, sha256, verified: true } : undefined;
}
