import { imgforgeError } from '../errors/error.ts';
import { formatIssues } from '../errors/zod.ts';
import { deepMerge, isPlainObject } from './merge.ts';
import { Profile } from './schema.ts';
import type { RawProfile } from './load.ts';

/** Apply a profile's `extends` chain, parent first; the result still holds raw (unvalidated) values. */
export function flattenProfile(name: string, raw: ReadonlyMap<string, RawProfile>): unknown {
  const chain: string[] = [];
  let merged: unknown = {};
  const layers: unknown[] = [];
  for (let current: string | undefined = name; current !== undefined; ) {
    if (chain.includes(current)) {
      throw imgforgeError('ProfileExtends', { chain: [...chain, current].join(' -> '), reason: 'the chain loops' });
    }
    chain.push(current);
    const profile = raw.get(current);
    if (!profile) {
      throw imgforgeError('ProfileExtends', { chain: chain.join(' -> '), reason: `no profile named "${current}"` });
    }
    if (!isPlainObject(profile.value)) {
      throw imgforgeError('ProfileInvalid', { path: profile.file, count: 1 }, { details: ['(top level): expected a mapping'] });
    }
    layers.unshift(profile.value);
    const parent = profile.value['extends'];
    current = typeof parent === 'string' ? parent : undefined;
  }
  for (const layer of layers) merged = deepMerge(merged, layer);
  // The result is this profile, not its parent: its own name, no extends left to follow.
  return { ...(merged as Record<string, unknown>), name, extends: undefined };
}

/** Validate one flattened profile, reporting problems against the file the user edits. */
export function validateProfile(file: string, value: unknown): Profile {
  const result = Profile.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const details = formatIssues(result.error.issues);
  throw imgforgeError('ProfileInvalid', { path: file, count: details.length }, { details });
}

/** Every profile, flattened and validated. */
export function resolveProfiles(raw: ReadonlyMap<string, RawProfile>): Map<string, Profile> {
  const out = new Map<string, Profile>();
  for (const [name, profile] of [...raw].sort(([a], [b]) => a.localeCompare(b))) {
    const value = flattenProfile(name, raw) as Record<string, unknown>;
    if (profile.value && isPlainObject(profile.value) && profile.value['name'] !== undefined && profile.value['name'] !== name) {
      throw imgforgeError('ProfileInvalid', { path: profile.file, count: 1 }, {
        details: [`name: must equal the file name "${name}", got ${JSON.stringify(profile.value['name'])}`],
      });
    }
    out.set(name, validateProfile(profile.file, value));
  }
  // `check` names the alternative to the user: it must be a profile they have.
  for (const [name, p] of out) {
    if (p.alternative !== undefined && !out.has(p.alternative)) {
      throw imgforgeError('ProfileInvalid', { path: raw.get(name)!.file, count: 1 }, { details: [`alternative: no profile named "${p.alternative}"`] });
    }
  }
  return out;
}
