/**
 * The files a node's assembly stages read, rendered from the plan (pure). Those holding a secret
 * (kubeadm's configuration, with the bootstrap token; keepalived's, with the VRRP password)
 * travel in the node's secrets tar, 0600; the rest in its bundle.
 */
import type nunjucks from 'nunjucks';
import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { API_SERVER_PORT, kubeadmDocuments, kubeadmYaml } from '../kubeadm/documents.ts';
import type { NodeDoc } from '../protocol/node-doc.ts';
import { renderTemplate } from '../render/environment.ts';
import type { SecretsBundle } from '../secrets/schema.ts';
import { SECRETS_DIR } from '../secrets/scope.ts';
import { parseCidr } from '../util/net.ts';
import type { TreeFile } from './bundle.ts';

type Assembly = NodeDoc['assembly'];
interface File { readonly path: string; readonly mode: number; readonly content: string }

/** Where the stages find them. */
export const KUBEADM_CONFIG = `${SECRETS_DIR}/kubeadm.yaml`;
export const KEEPALIVED_CONFIG = `${SECRETS_DIR}/keepalived.conf.in`;
export const HAPROXY_CONFIG = '/etc/imgforge/haproxy.cfg';

export function assemblySecretFiles(env: nunjucks.Environment, cluster: Cluster, n: ResolvedNode, secrets: SecretsBundle, assembly: Assembly): File[] {
  if (!assembly || assembly.part === 'etcd') return [];
  const out: File[] = [{ path: KUBEADM_CONFIG, mode: 0o600, content: kubeadmYaml(kubeadmDocuments(cluster, n, secrets)) }];
  if (assembly.vip && assembly.vip.provider !== 'kube-vip') {
    out.push({ path: KEEPALIVED_CONFIG, mode: 0o600, content: renderTemplate(env, 'files/keepalived.conf.njk', {
      node: n.config.hostname, vip: assembly.vip, password: secrets.vrrpPassword, leaderPriority: 200,
      virtualRouterId: cluster.config.cluster.controlPlaneEndpoint.virtualRouterId,
    }) });
  }
  return out;
}

export const ETCD_UNIT = '/etc/systemd/system/etcd.service';

export function assemblyTreeFiles(env: nunjucks.Environment, cluster: Cluster, n: ResolvedNode, assembly: Assembly): TreeFile[] {
  if (assembly?.etcd) {
    return [{ path: ETCD_UNIT, mode: 0o644, owned: true, content: renderTemplate(env, 'files/etcd.service.njk', {
      node: n.config.hostname, cluster: cluster.config.cluster.name, ip: parseCidr(n.config.address)?.address ?? n.config.hostname,
      initialCluster: assembly.etcd.initialCluster, binary: assembly.etcd.url ? '/usr/local/bin/etcd' : '/usr/bin/etcd',
    }) }];
  }
  if (assembly?.vip?.provider !== 'keepalived+haproxy') return [];
  const backends = cluster.nodes.filter((x) => x.config.role === 'control-plane' && x.config.address !== 'dhcp')
    .map((x) => ({ hostname: x.config.hostname, address: parseCidr(x.config.address)!.address }));
  return [{ path: HAPROXY_CONFIG, mode: 0o644, owned: true, content: renderTemplate(env, 'files/haproxy.cfg.njk', {
    node: n.config.hostname, port: cluster.config.cluster.controlPlaneEndpoint.port, apiServerPort: API_SERVER_PORT, backends,
  }) }];
}
