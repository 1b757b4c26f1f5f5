import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { imgforgeError } from '../errors/error.ts';
import type { BaseChoice } from '../plan/base.ts';
import type { TemplateSet } from '../render/templates.ts';
import { bootstrapDigest } from './bootstrap-spec.ts';
import { cachedBase, exists } from './cache.ts';
import type { ObtainedBase } from './obtain.ts';

/** The chosen base when the cache already holds it (or it is a local file), without any download or conversion. */
export async function findBase(choice: BaseChoice, opts: { readonly cacheDir: string; readonly templates: TemplateSet }): Promise<ObtainedBase | undefined> {
  switch (choice.kind) {
    case 'file': {
      const path = resolve(choice.path);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile()) throw imgforgeError('BaseInvalid', { path, detail: 'no such file' });
      // Hashing a local file needs the extent-aware hasher; only this case loads it.
      const { localHash } = await import('./local.ts');
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
