import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where a base comes from, as the plan states it. */
export interface BaseSource {
  readonly url: string;
  readonly sha256?: string | undefined;
  readonly sha256sums?: string | undefined;
  readonly unverifiedReason?: string | undefined;
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

export const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);
export const urlKey = (url: string): string => createHash('sha256').update(url).digest('hex').slice(0, 32);

/** A verified base this URL gave before, already converted, if the cache holds one. */
export async function cachedBase(src: BaseSource, cacheDir: string): Promise<Base | undefined> {
  const sha256 = src.sha256 ?? (await readFile(join(cacheDir, 'urls', urlKey(src.url)), 'utf8').catch(() => '')).trim();
  if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  const raw = join(cacheDir, 'raw', `${sha256}.img`);
  return (await exists(raw)) ? { raw, sha256, verified: true } : undefined;
}
