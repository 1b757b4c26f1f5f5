import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { loadConfigFile, type RawConfig } from './load.ts';
import { validateConfig } from './validate.ts';
import { resolveCluster, unknownBoards, type Cluster } from './resolve.ts';
import { imgforgeError, isImgforgeError } from '../errors/error.ts';
import { isPlainObject } from '../profiles/merge.ts';
import { BUILTIN_PROFILE_DIR, loadProfileFiles, type RawProfile } from '../profiles/load.ts';
import { resolveProfiles } from '../profiles/resolve.ts';

/** The profile folders a config names, checked to exist (a missing one is an input error naming the field). */
async function profileDirs(raw: RawConfig, dirs: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  const out = [BUILTIN_PROFILE_DIR];
  for (const [i, d] of dirs.entries()) {
    const abs = resolve(dirname(raw.path), d);
    if (await stat(abs).then((s) => s.isDirectory(), () => false)) out.push(abs);
    else problems.push(`profileDirs[${i}]: no folder at ${abs}`);
  }
  if (problems.length) throw imgforgeError('ConfigInvalid', { path: raw.path, count: problems.length }, { details: problems });
  return out;
}

/** Board names in a config that failed validation, checked anyway so every problem is reported at once. */
async function boardProblems(raw: RawConfig): Promise<string[]> {
  const value = isPlainObject(raw.value) ? raw.value : {};
  const dirs = Array.isArray(value['profileDirs']) && value['profileDirs'].every((d) => typeof d === 'string') ? (value['profileDirs'] as string[]) : [];
  let profiles: Map<string, RawProfile>;
  try {
    profiles = await loadProfileFiles(await profileDirs(raw, dirs));
  } catch {
    return [];
  }
  const nodes = Array.isArray(value['nodes']) ? (value['nodes'] as unknown[]) : [];
  return unknownBoards(nodes.map((n) => (isPlainObject(n) && typeof n['board'] === 'string' ? n['board'] : undefined)), [...profiles.keys()]);
}

/**
 * load -> validate -> resolve: the cluster as every later stage sees it. `rewrite` gives a
 * variant of the config's value (the lab's: nodes on the boards QEMU boots), validated and
 * resolved the same way.
 */
export async function loadCluster(configFile: string, rewrite?: (value: unknown, cluster: Cluster) => unknown): Promise<Cluster> {
  const raw = await loadConfigFile(configFile);
  let config;
  try {
    config = validateConfig(raw);
  } catch (e) {
    if (!isImgforgeError(e) || e.code !== 'ConfigInvalid') throw e;
    const details = [...e.details, ...(await boardProblems(raw))];
    throw imgforgeError('ConfigInvalid', { path: raw.path, count: details.length }, { details });
  }
  const rawProfiles = await loadProfileFiles(await profileDirs(raw, config.profileDirs));
  const profiles = resolveProfiles(rawProfiles);
  const cluster = resolveCluster(raw, config, rawProfiles, profiles);
  if (!rewrite) return cluster;
  const variant = { ...raw, value: rewrite(raw.value, cluster) };
  return resolveCluster(variant, validateConfig(variant), rawProfiles, profiles);
}

export type { Cluster, ResolvedNode } from './resolve.ts';
