import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { imgforgeError } from '../errors/error.ts';
import type { SecretsBundle } from './schema.ts';
import { mismatches, tokenOf } from './scope.ts';
import { loadSecrets, saveSecrets, secretsPath } from './store.ts';

/**
 * The cluster's secrets for a plan: read and checked; made and saved on first use when `create`
 * (build, render), left absent otherwise (plan writes nothing). A bundle that no longer fits the
 * config is an input error listing what does not fit.
 */
export async function secretsFor(cluster: Cluster, opts: { readonly create: boolean; readonly say?: ((text: string) => void) | undefined }): Promise<SecretsBundle | undefined> {
  let bundle = await loadSecrets(cluster);
  if (!bundle && opts.create) {
    const { createSecrets } = await import('./create.ts');
    bundle = await createSecrets(cluster, Date.now());
    const path = await saveSecrets(cluster, bundle);
    opts.say?.(`made the cluster's secrets: ${path} (keep it private; \`imgforge secrets show\` lists it)\n`);
  }
  if (!bundle) return undefined;
  const wrong = mismatches(bundle, cluster);
  if (wrong.length) throw imgforgeError('SecretsStale', { path: secretsPath(cluster) }, { details: wrong });
  return bundle;
}

/**
 * Nodes whose bootstrap token has expired at `now`: their images would boot and never join.
 * Not an error (a first control plane registers its token itself), but worth a warning.
 */
export function expiredTokens(bundle: SecretsBundle, nodes: readonly ResolvedNode[], now: number): string[] {
  return nodes.filter((n) => n.config.role !== 'etcd').flatMap((n) => {
    const t = tokenOf(bundle, n.config.hostname);
    return Date.parse(t.expires) <= now
      ? [`${n.config.hostname}: its bootstrap token ${t.id} expired at ${t.expires}; it will not join a running cluster (imgforge secrets rotate-token ${n.config.hostname}, then rebuild it)`]
      : [];
  });
}
