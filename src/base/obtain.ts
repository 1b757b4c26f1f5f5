import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { imgforgeError, isImgforgeError } from '../errors/error.ts';
import type { BaseChoice } from '../plan/base.ts';
import type { TemplateSet } from '../render/templates.ts';
import { bootstrapBase } from './bootstrap.ts';
import { exists } from './cache.ts';
import { toRawImage } from './decompress.ts';
import { fetchBase } from './fetch.ts';
import { probeBase } from '../image/probe.ts';
import { localHash, localMemo } from './local.ts';

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


/** Get the chosen base into the cache: download, verify, convert, bootstrap. Decides nothing. */
export async function obtainBase(choice: BaseChoice, opts: ObtainOptions): Promise<ObtainedBase> {
  switch (choice.kind) {
    case 'file': {
      // Verified by the user who named it; its hash still keys the cache and the manifest.
      const path = resolve(choice.path);
      const st = await stat(path).catch(() => undefined);
      if (st?.isDirectory()) throw imgforgeError('BaseInvalid', { path, detail: 'it is a directory; --base takes an image file (raw, qcow2, .xz, .zst or .gz)' });
      if (!st?.isFile()) throw imgforgeError('BaseInvalid', { path, detail: 'no such file' });
      const sha256 = await localHash(path, st, opts.cacheDir);
      const raw = join(opts.cacheDir, 'raw', `${sha256}.img`);
      await mkdir(dirname(raw), { recursive: true, mode: 0o700 });
      if (!(await exists(raw))) await toRawImage(path, raw);
      try {
        probeBase(raw);
      } catch (e) {
        // Not an image: said of the user's file, and nothing of it stays in the cache.
        await rm(raw, { force: true });
        await rm(localMemo(path, st, opts.cacheDir), { force: true });
        if (isImgforgeError(e) && e.code === 'BaseInvalid') throw imgforgeError('BaseInvalid', { path, detail: e.message.slice(`${raw}: `.length) }, { cause: e });
        throw e;
      }
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
