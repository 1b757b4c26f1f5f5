import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256File } from './checksum.ts';

/**
 * A local base's SHA-256, remembered by path, device, inode, size and change times so a
 * rebuild from the same unchanged file does not read gigabytes again; any write to the file
 * changes its ctime and so its key.
 */
/** Where the hash of this file, as it is now, is remembered. */
export const localMemo = (path: string, st: Stats, cacheDir: string): string =>
  join(cacheDir, 'local', createHash('sha256').update(JSON.stringify([path, st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs])).digest('hex'));

export async function localHash(path: string, st: Stats, cacheDir: string): Promise<string> {
  const memo = localMemo(path, st, cacheDir);
  const known = await readFile(memo, 'utf8').catch(() => '');
  if (/^[0-9a-f]{64}$/.test(known)) return known;
  const sha256 = await sha256File(path);
  await mkdir(dirname(memo), { recursive: true, mode: 0o700 });
  await writeFile(`${memo}.tmp-${process.pid}`, sha256, { mode: 0o600 });
  await rename(`${memo}.tmp-${process.pid}`, memo);
  return sha256;
}

