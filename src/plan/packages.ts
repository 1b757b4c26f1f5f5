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
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
/** A release file per architecture, accepted only with its pinned SHA-256. */
const Release = z.strictObject({
  version: z.string().regex(/^\d+\.\d+\.\d+$/), url: z.string().includes('{version}').includes('{arch}'),
  sha256: z.strictObject({ amd64: Sha256, arm64: Sha256 }), ...Cited,
});
export type Release = z.output<typeof Release>;

export const PackageSources = z.strictObject({
  kubernetes: z.strictObject({
    url: z.string().includes('{minor}'), suite: z.string(), key: z.string().includes('{minor}'), fingerprint: Fingerprint, ...Cited,
    packages: z.array(z.string()).min(1), held: z.array(z.string()),
  }),
  containerd: z.strictObject({
    url: z.url(), suite: z.string(), component: z.string(), key: z.url(), fingerprint: Fingerprint, ...Cited,
    package: z.string(), held: z.array(z.string()),
  }),
  etcd: Release,
  cni: z.strictObject({ ciliumCli: Release, ciliumRepository: z.url(), helm: Release, calicoRepository: z.url() }),
  kubeVip: z.strictObject({ image: z.string().min(1), version: z.string().regex(/^\d+\.\d+\.\d+$/), ...Cited }),
  gatewayApi: z.strictObject({
    url: z.string().includes('{version}').includes('{channel}'),
    sha256: z.strictObject({ standard: z.record(z.string(), Sha256), experimental: z.record(z.string(), Sha256) }),
    ...Cited,
  }),
});
export type PackageSources = z.output<typeof PackageSources>;

export const PACKAGES_FILE = fileURLToPath(new URL('../../data/packages.yaml', import.meta.url));

export async function loadPackageSources(file = PACKAGES_FILE): Promise<PackageSources> {
  const r = PackageSources.safeParse(parseYaml(await readFile(file, 'utf8')));
  if (r.success) return r.data;
  throw imgforgeError('ReadFailed', { path: file, detail: formatIssues(r.error.issues).join('; ') });
}
