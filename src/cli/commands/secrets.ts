import type { Cluster } from '../../config/resolve.ts';
import { imgforgeError } from '../../errors/error.ts';
import { createSecrets, issueMember, newToken } from '../../secrets/create.ts';
import { describeSecrets } from '../../secrets/describe.ts';
import type { SecretsBundle } from '../../secrets/schema.ts';
import { certifiedMembers, mismatches } from '../../secrets/scope.ts';
import { loadSecrets, saveSecrets, secretsPath } from '../../secrets/store.ts';
import { json, type Io } from '../output.ts';
import { loadAndCheck, type GlobalOptions } from '../context.ts';

/** The nodes whose images carry secrets (all of them: CA keys, the token or etcd certificates). */
const carriers = (cluster: Cluster): string => cluster.nodes.map((n) => n.config.hostname).join(', ');

async function existing(cluster: Cluster): Promise<SecretsBundle> {
  const bundle = await loadSecrets(cluster);
  if (!bundle) throw imgforgeError('SecretsMissing', { path: secretsPath(cluster), cluster: cluster.config.cluster.name });
  return bundle;
}

/** imgforge secrets init [--force]: the cluster's CAs, keys, token and certificates, once. */
export async function secretsInit(opts: GlobalOptions & { force: boolean }, io: Io): Promise<number> {
  const { cluster } = await loadAndCheck(opts);
  const path = secretsPath(cluster);
  // Reading it first also refuses a bundle that is broken or exposed, unless it is being replaced.
  const old = opts.force ? undefined : await loadSecrets(cluster);
  if (old) throw imgforgeError('SecretsExist', { path, stale: carriers(cluster) });
  const bundle = await createSecrets(cluster, Date.now());
  await saveSecrets(cluster, bundle);
  const facts = describeSecrets(bundle, Date.now());
  if (opts.json) io.out(json({ path, ...facts }));
  else io.out(`wrote ${path} (${facts.certificates.length} certificates, ${bundle.algorithm}; token ${bundle.token.id} until ${bundle.token.expires})\n${opts.force ? `images built before now are stale: ${carriers(cluster)}\n` : ''}`);
  return 0;
}

/** imgforge secrets show: what the bundle holds, never a key's bytes. */
export async function secretsShow(opts: GlobalOptions, io: Io): Promise<number> {
  const { cluster } = await loadAndCheck(opts);
  const facts = describeSecrets(await existing(cluster), Date.now());
  if (opts.json) {
    io.out(json({ path: secretsPath(cluster), ...facts }));
    return 0;
  }
  io.out(`cluster ${facts.cluster}, ${facts.algorithm}, made ${facts.created}\nCA hash (kubeadm --discovery-token-ca-cert-hash): ${facts.caCertHash}\n`);
  io.out(`bootstrap token ${facts.token.id}.<secret>, ${facts.token.expired ? 'EXPIRED' : 'valid'} until ${facts.token.expires} (cluster.bootstrapTokenTtl ${cluster.config.cluster.bootstrapTokenTtl / 3600}h)\n`);
  for (const [node, t] of Object.entries(facts.nodeTokens)) io.out(`  ${node} joins with its own token ${t.id}.<secret>, ${t.expired ? 'EXPIRED' : 'valid'} until ${t.expires}\n`);
  io.out(`service-account key ${facts.serviceAccount.algorithm}, public key SHA-256 ${facts.serviceAccount.fingerprint}\nVRRP password: set\n`);
  for (const c of facts.certificates) {
    io.out(`${c.name}: ${c.subject}, ${c.algorithm}, ${c.notBefore.slice(0, 10)} to ${c.notAfter.slice(0, 10)}\n  SHA-256 ${c.fingerprint}${c.sans ? `\n  ${c.sans}` : ''}\n`);
  }
  return 0;
}

/**
 * imgforge secrets rotate-token [node...]: a new bootstrap token. Named nodes (flashed after the
 * token expired) get one of their own and only their seeds change; with no names the cluster's
 * token is replaced and every joining node's seed changes (before the cluster first forms).
 */
export async function secretsRotateToken(nodes: readonly string[], opts: GlobalOptions, io: Io): Promise<number> {
  const { cluster } = await loadAndCheck(opts);
  const bundle = await existing(cluster);
  const joiners = cluster.nodes.filter((n) => n.config.role !== 'etcd').map((n) => n.config.hostname);
  for (const node of nodes) {
    if (!joiners.includes(node)) throw imgforgeError('UnknownNode', { node, known: joiners.join(', ') });
  }
  const ttl = cluster.config.cluster.bootstrapTokenTtl;
  const token = newToken(ttl, Date.now());
  const next = nodes.length
    ? { ...bundle, nodeTokens: { ...bundle.nodeTokens, ...Object.fromEntries(nodes.map((n) => [n, token])) } }
    : { ...bundle, token, nodeTokens: Object.fromEntries(Object.entries(bundle.nodeTokens).filter(([n]) => joiners.includes(n))) };
  await saveSecrets(cluster, next);
  const changed = nodes.length ? [...nodes] : joiners.filter((n) => !next.nodeTokens[n]);
  // A cluster that is already running knows only the tokens its first control plane was built
  // with: the new one is registered there (kubeadm token create accepts a given token).
  const register = `kubeadm token create ${token.id}.${token.secret} --ttl ${ttl}s`;
  if (opts.json) io.out(json({ path: secretsPath(cluster), token: { id: token.id, expires: token.expires }, seedsChange: changed, register }));
  else {
    io.out(`new bootstrap token ${token.id}.<secret>, valid until ${token.expires}; rebuild these nodes, their seeds change: ${changed.join(', ')}
`);
    io.out(`if the cluster is already running, register it on a control plane first:
  ${register}
`);
  }
  return 0;
}

/** imgforge secrets issue: certificates for etcd members that are new, or whose name or address changed. */
export async function secretsIssue(opts: GlobalOptions, io: Io): Promise<number> {
  const { cluster } = await loadAndCheck(opts);
  const bundle = await existing(cluster);
  const wrong = mismatches(bundle, cluster).filter((m) => m.startsWith('it has no etcd') || m.startsWith('the etcd certificates of'));
  const members = certifiedMembers(cluster).filter((m) => wrong.some((w) => w.includes(` ${m.hostname}`)));
  const { createPrivateKey, createPublicKey } = await import('node:crypto');
  const etcdCa = { cert: bundle.cas.etcd.cert, key: { privateKey: createPrivateKey(bundle.cas.etcd.key), publicKey: createPublicKey(bundle.cas.etcd.key) } };
  const issued = await Promise.all(members.map(async (m) => [m.hostname, await issueMember(bundle.algorithm, etcdCa, m, Date.now())] as const));
  if (issued.length) await saveSecrets(cluster, { ...bundle, etcdMembers: { ...bundle.etcdMembers, ...Object.fromEntries(issued) } });
  const names = issued.map(([n]) => n);
  if (opts.json) io.out(json({ path: secretsPath(cluster), issued: names }));
  else io.out(names.length ? `issued etcd certificates for ${names.join(', ')}; rebuild their images\n` : 'every etcd member already has its certificates\n');
  return 0;
}
