import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The static first-boot runtime shipped with imgforge: runtime/<path on the node>, and runtime/bootstrap.sh. */
export const RUNTIME_DIR = fileURLToPath(new URL('../../runtime/', import.meta.url));

/** Runtime file texts by path relative to runtime/ ("usr/local/lib/imgforge/lib.sh"), read once. */
export type RuntimeSet = ReadonlyMap<string, string>;

export async function loadRuntime(dir = RUNTIME_DIR): Promise<RuntimeSet> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.parentPath.includes('__pycache__')) continue;
    const file = join(entry.parentPath, entry.name);
    out.set(relative(dir, file).split(sep).join('/'), await readFile(file, 'utf8'));
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
