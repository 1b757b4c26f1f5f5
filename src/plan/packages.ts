/**
 * data/packages.yaml: the apt repositories a node installs Kubernetes and containerd from, with
 * their signing keys' pinned fingerprints and sources. Read once before planning (planning itself
 * does no I/O); src/plan/assembly.ts applies the config's mirrors to it.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { imgforgeError } from '../errors/error.ts';
import { formatIssues } from '../errors/zod.ts';

const Cited = { source: z.string().min(1), confidence: z.enum(['confirmed', 'unconfirmed']) };
const Fingerprint = z.string().regex(/^[0-9A-F]{40}$/);

export const PackageSources = z.strictObject({
  kubernetes: z.strictObject({
    url: z.string().includes('{minor}'), suite: z.string(), key: z.string().includes('{minor}'), fingerprint: Fingerprint, ...Cited,
    packages: z.array(z.string()).min(1), held: z.array(z.string()),
  }),
  containerd: z.strictObject({
    url: z.url(), suite: z.string(), component: z.string(), key: z.url(), fingerprint: Fingerprint, ...Cited,
    package: z.string(), held: z.array(z.string()),
  }),
});
export type PackageSources = z.output<typeof PackageSources>;

export const PACKAGES_FILE = fileURLToPath(new URL('../../data/packages.yaml', import.meta.url));

export async function loadPackageSources(file = PACKAGES_FILE): Promise<PackageSources> {
  const r = PackageSources.safeParse(parseYaml(await readFile(file, 'utf8')));
  if (r.success) return r.data;
  throw imgforgeError('ReadFailed', { path: file, detail: formatIssues(r.error.issues).join('; ') });
}
