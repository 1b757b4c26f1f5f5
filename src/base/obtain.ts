import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { imgforgeError } from '../errors/error.ts';
import type { BaseChoice } from '../plan/base.ts';
import type { TemplateSet } from '../render/templates.ts';
import { bootstrapBase, bootstrapDigest } from './bootstrap.ts';
import { sha256File } from './checksum.ts';
import { toRawImage } from './decompress.ts';
import { cachedBase, fetchBase } from './fetch.ts';

/** A base ready to read: a sparse raw image in the cache, and what it is. */
export interface ObtainedBase {
  readonly raw: string;
  readonly sha256: string;
  readonly verified: boolean;
  readonly source: string;
}

export interface ObtainOptions {
  readonly cacheDir: string;
  readonly allowUnverified: boolean;
  readonly templates: TemplateSet;
  readonly epoch: number;
  readonly onStep?: ((s: string) => void) | undefined;
  readonly onProgress?: ((what: string, done: number, total: number | null) => void) | undefined;
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

/**
 * A local base's SHA-256, remembered by path, device, inode, size and change times so a
 * rebuild from the same unchanged file does not read gigabytes again; any write to the file
 * changes its ctime and so its key.
 */
async function localHash(path: string, st: Stats, cacheDir: string): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify([path, st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs])).digest('hex');
  const memo = join(cacheDir, 'local', key);
  const known = await readFile(memo, 'utf8').catch(() => '');
  if (/^[0-9a-f]{64}$/.test(known)) return known;
  const sha256 = await sha256File(path);
  await mkdir(dirname(memo), { recursive: true, mode: 0o700 });
  await writeFile(`${memo}.tmp-${process.pid}`, sha256, { mode: 0o600 });
  await rename(`${memo}.tmp-${process.pid}`, memo);
  return sha256;
}

/** Get the chosen base into the cache: download, verify, convert, bootstrap. Decides nothing. */
export async function obtainBase(choice: BaseChoice, opts: ObtainOptions): Promise<ObtainedBase> {
  switch (choice.kind) {
    case 'file': {
      // Verified by the user who named it; its hash still keys the cache and the manifest.
      const path = resolve(choice.path);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) throw imgforgeError('BaseInvalid', { path, detail: 'no such file' });
      const sha256 = await localHash(path, st, opts.cacheDir);
      const raw = join(opts.cacheDir, 'raw', `${sha256}.img`);
      await mkdir(dirname(raw), { recursive: true, mode: 0o700 });
      if (!(await exists(raw))) await toRawImage(path, raw);
      return { raw, sha256, verified: false, source: path };
    }
    case 'bootstrap': {
      const built = await bootstrapBase(choice.spec, { cacheDir: opts.cacheDir, templates: opts.templates, epoch: opts.epoch, onStep: (s) => opts.onStep?.(`base: ${s}`) });
      return { raw: built.raw, sha256: built.digest, verified: true, source: choice.source };
    }
    case 'download': {
      const base = await fetchBase(choice, { cacheDir: opts.cacheDir, allowUnverified: opts.allowUnverified, onProgress: (done, total) => opts.onProgress?.(choice.url, done, total) });
      return { ...base, source: choice.url };
    }
  }
}

/** The chosen base when the cache already holds it (or it is a local file), without any download or conversion. */
export async function findBase(choice: BaseChoice, opts: Pick<ObtainOptions, 'cacheDir' | 'templates'>): Promise<ObtainedBase | undefined> {
  switch (choice.kind) {
    case 'file': {
      const path = resolve(choice.path);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) throw imgforgeError('BaseInvalid', { path, detail: 'no such file' });
      const sha256 = await localHash(path, st, opts.cacheDir);
      const raw = join(opts.cacheDir, 'raw', `${sha256}.img`);
      return { raw: (await exists(raw)) ? raw : path, sha256, verified: false, source: path };
    }
    case 'bootstrap': {
      const digest = bootstrapDigest(choice.spec, opts.templates);
      const raw = join(opts.cacheDir, 'bootstrap', `${digest}.img`);
      return (await exists(raw)) ? { raw, sha256: digest, verified: true, source: choice.source } : undefined;
    }
    case 'download': {
      const hit = await cachedBase(choice, opts.cacheDir);
      return hit ? { ...hit, source: choice.url } : undefined;
    }
  }
}
