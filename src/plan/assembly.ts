/**
 * How one node takes part in assembling the cluster (pure): its part (the leader's init, a
 * control plane's join, a worker's join), whom it waits for, the VIP it helps hold, and the
 * pinned packages it installs, mirrors applied. Rendered into node.json for the stage scripts.
 */
import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { etcdMembers } from '../check/rules/etcd.ts';
import { API_SERVER_PORT, leaderOf } from '../kubeadm/documents.ts';
import type { NodeDoc } from '../protocol/node-doc.ts';
import { parseCidr } from '../util/net.ts';
import type { PackageSources } from './packages.ts';

type Assembly = NonNullable<NodeDoc['assembly']>;

const addressOf = (n: ResolvedNode): string | null => (n.config.address === 'dhcp' ? null : parseCidr(n.config.address)!.address);
const minorOf = (version: string): string => `v${version.split('.').slice(0, 2).join('.')}`;
/** The VRRP priorities: the leader's is above every other, and a failing health check (weight -100) drops any node below every healthy one. */
const LEADER_PRIORITY = 200;
const FIRST_PRIORITY = 150;

/** Does the node assemble, and if so how. */
export function assemblyOf(cluster: Cluster, n: ResolvedNode, sources: PackageSources): Assembly | null {
  const c = cluster.config.cluster;
  const leader = leaderOf(cluster);
  if (!c.selfAssembly || n.config.role === 'etcd' || !leader) return null;
  const cps = cluster.nodes.filter((x) => x.config.role === 'control-plane');
  // Control planes join in config order after the leader, one at a time.
  const order = [leader, ...cps.filter((x) => x !== leader)];
  const index = order.indexOf(n);
  const before = index > 0 ? order[index - 1]! : null;
  const part = n === leader ? 'init' : n.config.role === 'control-plane' ? 'control-plane' : 'worker';
  const e = c.controlPlaneEndpoint;
  const minor = minorOf(c.kubernetesVersion);
  const k = sources.kubernetes;
  const kubeBase = c.mirrors.kubernetes?.replace(/\/$/, '');
  const sub = (url: string): string => (kubeBase ? url.replace('https://pkgs.k8s.io', kubeBase) : url).replaceAll('{minor}', minor);
  const d = sources.containerd;
  const dockerUrl = c.mirrors.containerd?.replace(/\/$/, '') ?? d.url;
  const keepalived = n.config.role === 'control-plane' && e.provider !== 'kube-vip';
  const etcdMember = etcdMembers(cluster).includes(n);
  return {
    leader: leader.config.hostname,
    part,
    after: part === 'control-plane' && before && before !== leader ? { hostname: before.config.hostname, address: addressOf(before) } : null,
    etcdEndpoints: etcdMembers(cluster).flatMap((m) => (addressOf(m) ? [`https://${addressOf(m)}:2379`] : [])),
    apiServerPort: API_SERVER_PORT,
    vip: keepalived ? {
      provider: e.provider as 'keepalived' | 'keepalived+haproxy',
      address: e.vip,
      priority: n === leader ? LEADER_PRIORITY : FIRST_PRIORITY - index,
      checkPort: e.provider === 'keepalived+haproxy' ? e.port : API_SERVER_PORT,
    } : null,
    packages: {
      kubernetes: { url: sub(k.url), suite: k.suite, component: '', key: sub(k.key), fingerprint: k.fingerprint, version: c.kubernetesVersion, install: [...k.packages], held: [...k.held] },
      containerd: c.runtime.source === 'docker'
        ? { repo: { url: dockerUrl, suite: d.suite, component: d.component, key: c.mirrors.containerd ? `${dockerUrl}/gpg` : d.key, fingerprint: d.fingerprint },
          package: d.package, line: c.runtime.version ?? null, held: [...d.held] }
        : { repo: null, package: 'containerd', line: null, held: ['containerd'] },
      extra: [
        // etcdctl: a joining control plane asks etcd whether the one before it is a voter; a worker's member adds itself.
        ...(n.config.role === 'control-plane' || etcdMember ? ['etcd-client'] : []),
        ...(keepalived ? ['keepalived'] : []),
        ...(keepalived && e.provider === 'keepalived+haproxy' ? ['haproxy'] : []),
      ],
    },
    imageRepository: c.mirrors.images ?? '',
  };
}
