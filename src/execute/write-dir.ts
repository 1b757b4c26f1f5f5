import { mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { imgforgeError } from '../errors/error.ts';

/** Left in every folder imgforge writes, so it can later tell its own folder from a user's. */
export const MARKER = '.imgforge';

export interface OutputFile {
  /** Path relative to the folder; parents are made as needed. */
  readonly name: string;
  /** Content, or a symlink's target. */
  readonly content: string | Buffer;
  /** @default 0o600: seeds carry secrets */
  readonly mode?: number;
  readonly symlink?: boolean;
}

async function entries(dir: string): Promise<string[] | undefined> {
  try {
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw imgforgeError('ReadFailed', { path: dir, detail: (e as Error).message }, { cause: e });
  }
}

/**
 * Write a folder of files all at once: into a temporary sibling, then renamed into place, so
 * the final name holds either the old complete folder or the new complete one, never half.
 * Files are 0600 and the folder 0700: seeds carry secrets.
 */
export async function writeDirAtomic(target: string, files: readonly OutputFile[], marker: string): Promise<void> {
  const out = resolve(target);
  const existing = await entries(out);
  if (existing && existing.length > 0 && !existing.includes(MARKER)) throw imgforgeError('OutputNotEmpty', { path: out });
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${process.pid}`);
  const old = join(dirname(out), `.${basename(out)}.old-${process.pid}`);
  try {
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true, mode: 0o700 });
    for (const f of files) {
      const path = join(tmp, f.name);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      if (f.symlink) await symlink(String(f.content), path);
      else await writeFile(path, f.content, { mode: f.mode ?? 0o600, flag: 'wx' });
    }
    await writeFile(join(tmp, MARKER), marker, { mode: 0o600, flag: 'wx' });
    if (existing) await rename(out, old);
    await rename(tmp, out);
    await rm(old, { recursive: true, force: true });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw imgforgeError('WriteFailed', { path: out, detail: (e as Error).message }, { cause: e });
  }
}
