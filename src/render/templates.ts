import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The templates shipped with imgforge. */
export const TEMPLATE_DIR = fileURLToPath(new URL('../../templates/', import.meta.url));

/** Template sources by name ("seed/user-data.njk"), read once so rendering needs no I/O. */
export type TemplateSet = ReadonlyMap<string, string>;

export async function loadTemplates(dir = TEMPLATE_DIR): Promise<TemplateSet> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    out.set(relative(dir, file).split(sep).join('/'), await readFile(file, 'utf8'));
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}
