import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { imgforgeError } from '../errors/error.ts';

/** The profiles shipped with imgforge. */
export const BUILTIN_PROFILE_DIR = fileURLToPath(new URL('../../profiles/', import.meta.url));

/** A profile file as written, before `extends` is applied and before validation. */
export interface RawProfile {
  readonly name: string;
  readonly file: string;
  readonly value: unknown;
}

/** Read every profiles/<name>.yaml of the given folders; a later folder's profile replaces an earlier one of the same name. */
export async function loadProfileFiles(dirs: readonly string[]): Promise<Map<string, RawProfile>> {
  const out = new Map<string, RawProfile>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n)).sort();
    } catch (e) {
      throw imgforgeError('ReadFailed', { path: dir, detail: (e as Error).message }, { cause: e });
    }
    for (const name of names) {
      const file = join(dir, name);
      const text = await readFile(file, 'utf8');
      let value: unknown;
      try {
        value = parseYaml(text);
      } catch (e) {
        throw imgforgeError('ProfileInvalid', { path: file, count: 1 }, { details: [(e as Error).message.split('\n')[0]!], cause: e });
      }
      const profileName = basename(name).replace(/\.ya?ml$/, '');
      out.set(profileName, { name: profileName, file, value });
    }
  }
  return out;
}
