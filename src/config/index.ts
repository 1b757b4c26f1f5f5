import { dirname, resolve } from 'node:path';
import { loadConfigFile } from './load.ts';
import { validateConfig } from './validate.ts';
import { resolveCluster, type Cluster } from './resolve.ts';
import { BUILTIN_PROFILE_DIR, loadProfileFiles } from '../profiles/load.ts';
import { resolveProfiles } from '../profiles/resolve.ts';

/** load -> validate -> resolve: the cluster as every later stage sees it. */
export async function loadCluster(configFile: string): Promise<Cluster> {
  const raw = await loadConfigFile(configFile);
  const config = validateConfig(raw);
  const dirs = [BUILTIN_PROFILE_DIR, ...config.profileDirs.map((d) => resolve(dirname(raw.path), d))];
  const rawProfiles = await loadProfileFiles(dirs);
  const profiles = resolveProfiles(rawProfiles);
  return resolveCluster(raw, config, rawProfiles, profiles);
}

export type { Cluster, ResolvedNode } from './resolve.ts';
