/**
 * Which secrets each node receives (pure). Control planes get the eight shared files of kubeadm's
 * manual certificate distribution (kubernetes.io "Creating Highly Available Clusters with
 * kubeadm", #manual-certs): no --upload-certs, no two-hour window. A worker gets the bootstrap
 * token (the CA hash it pins is public and travels in node.json); kubeadm join refuses a CA file
 * that already exists. An etcd member imgforge certifies gets the etcd CA certificate and its own
 * certificates, never a CA key.
 */
import { X509Certificate } from 'node:crypto';
import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { etcdMembers } from '../config/topology.ts';
import { parseCidr, parseIp } from '../util/net.ts';
import type { SecretsBundle, Token } from './schema.ts';

/** A file a node receives that holds or guards a secret; keys are 0600. */
export interface SecretFile {
  readonly path: string;
  readonly mode: number;
  readonly content: string;
}

const PKI = '/etc/kubernetes/pki';
export const SECRETS_DIR = '/etc/imgforge/secrets';

/** An etcd member whose certificates imgforge issues because kubeadm will not: not a control plane. */
export interface CertifiedMember {
  readonly hostname: string;
  readonly ip: string | null;
}

export function certifiedMembers(cluster: Cluster): CertifiedMember[] {
  return etcdMembers(cluster).filter((n) => n.config.role !== 'control-plane').map((n) => ({
    hostname: n.config.hostname, ip: n.config.address === 'dhcp' ? null : parseCidr(n.config.address)!.address,
  }));
}

/** The SANs kubeadm gives an etcd server or peer certificate (pkiutil.getAltNames): the node, localhost, its address and the loopbacks. */
export function memberNames(m: CertifiedMember): { dnsNames: string[]; ips: string[] } {
  return { dnsNames: [m.hostname, 'localhost'], ips: [...(m.ip ? [m.ip] : []), '127.0.0.1', '::1'] };
}

const externalEtcd = (cluster: Cluster): boolean => cluster.config.cluster.etcd.topology === 'external';

/** Where the bundle no longer fits the config: another cluster or algorithm, a member without certificates or with other names. */
export function mismatches(bundle: SecretsBundle, cluster: Cluster): string[] {
  const out: string[] = [];
  const c = cluster.config.cluster;
  if (bundle.cluster !== c.name) out.push(`it belongs to cluster "${bundle.cluster}", the config describes "${c.name}"`);
  if (bundle.algorithm !== c.encryptionAlgorithm) out.push(`its keys are ${bundle.algorithm}, the config asks for ${c.encryptionAlgorithm}`);
  if (externalEtcd(cluster) && !bundle.apiserverEtcdClient) out.push('the etcd topology is external, but it has no apiserver-etcd-client certificate');
  for (const m of certifiedMembers(cluster)) {
    const certs = bundle.etcdMembers[m.hostname];
    if (!certs) { out.push(`it has no etcd certificates for ${m.hostname}`); continue; }
    const want = memberNames(m);
    const san = new X509Certificate(certs.server.cert).subjectAltName ?? '';
    const have = san.split(', ').map((s) => s.replace(/^IP Address:/, 'IP:')).map((s) => (s.startsWith('IP:') ? `IP:${parseIp(s.slice(3))}` : s));
    const expected = [...want.dnsNames.map((d) => `DNS:${d}`), ...want.ips.map((i) => `IP:${parseIp(i)}`)];
    if (have.join(',') !== expected.join(',')) out.push(`the etcd certificates of ${m.hostname} name ${have.join(' ')}; the config gives ${expected.join(' ')}`);
  }
  return out;
}

/** The bootstrap token a node joins with: its own when rotate-token made one for it, else the cluster's. */
export const tokenOf = (bundle: SecretsBundle, hostname: string): Token => bundle.nodeTokens[hostname] ?? bundle.token;

/** The secret files one node receives, by its role. */
export function secretFiles(bundle: SecretsBundle, cluster: Cluster, node: ResolvedNode): SecretFile[] {
  const out: SecretFile[] = [];
  const file = (path: string, content: string, mode = 0o600): void => { out.push({ path, mode, content }); };
  const role = node.config.role;
  const external = externalEtcd(cluster);
  if (role === 'control-plane') {
    file(`${PKI}/ca.crt`, bundle.cas.cluster.cert, 0o644);
    file(`${PKI}/ca.key`, bundle.cas.cluster.key);
    file(`${PKI}/sa.key`, bundle.serviceAccount.key);
    file(`${PKI}/sa.pub`, bundle.serviceAccount.pub, 0o644);
    file(`${PKI}/front-proxy-ca.crt`, bundle.cas.frontProxy.cert, 0o644);
    file(`${PKI}/front-proxy-ca.key`, bundle.cas.frontProxy.key);
    file(`${PKI}/etcd/ca.crt`, bundle.cas.etcd.cert, 0o644);
    if (!external) file(`${PKI}/etcd/ca.key`, bundle.cas.etcd.key);
    if (external && bundle.apiserverEtcdClient) {
      file(`${PKI}/apiserver-etcd-client.crt`, bundle.apiserverEtcdClient.cert, 0o644);
      file(`${PKI}/apiserver-etcd-client.key`, bundle.apiserverEtcdClient.key);
    }
    if (cluster.config.cluster.controlPlaneEndpoint.provider.startsWith('keepalived')) file(`${SECRETS_DIR}/vrrp-password`, `${bundle.vrrpPassword}\n`);
  }
  // Every node that joins Kubernetes: the control planes other than the first, and the workers.
  if (role !== 'etcd') {
    const t = tokenOf(bundle, node.config.hostname);
    file(`${SECRETS_DIR}/bootstrap-token`, `${t.id}.${t.secret}\n`);
  }
  const member = bundle.etcdMembers[node.config.hostname];
  if (member && role !== 'control-plane') {
    file(`${PKI}/etcd/ca.crt`, bundle.cas.etcd.cert, 0o644);
    for (const [base, ck] of [['server', member.server], ['peer', member.peer], ['healthcheck-client', member.healthcheckClient]] as const) {
      file(`${PKI}/etcd/${base}.crt`, ck.cert, 0o644);
      file(`${PKI}/etcd/${base}.key`, ck.key);
    }
  }
  return out;
}
