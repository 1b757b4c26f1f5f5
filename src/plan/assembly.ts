/**
 * How one node takes part in assembling the cluster (pure): its part (the leader's init, a
 * control plane's join, a worker's join), whom it waits for, the VIP it helps hold, and the
 * pinned packages it installs, mirrors applied. Rendered into node.json for the stage scripts.
 */
import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { etcdMembers } from '../config/topology.ts';
import { API_SERVER_PORT, kubeProxyReplaced, leaderOf } from '../kubeadm/documents.ts';
import type { NodeDoc } from '../protocol/node-doc.ts';
import { parseCidr } from '../util/net.ts';
import type { PackageSources, Release } from './packages.ts';

type Assembly = NonNullable<NodeDoc['assembly']>;

const addressOf = (n: ResolvedNode): string | null => (n.config.address === 'dhcp' ? null : parseCidr(n.config.address)!.address);
const minorOf = (version: string): string => `v${version.split('.').slice(0, 2).join('.')}`;
/** The VRRP priorities: the leader's is above every other, and a failing health check (weight -100) drops any node below every healthy one. */
const LEADER_PRIORITY = 200;
const FIRST_PRIORITY = 150;

/** A release file's URL on the downloads mirror, when the config names one: <mirror>/<host>/<path>. */
export function mirrored(cluster: Cluster, url: string): string {
  const m = cluster.config.cluster.mirrors.downloads?.replace(/\/$/, '');
  return m ? `${m}/${url.replace(/^https?:\/\//, '')}` : url;
}

const archOf = (n: ResolvedNode): 'amd64' | 'arm64' => (n.profile.arch === 'arm64' ? 'arm64' : 'amd64');
const release = (cluster: Cluster, r: Release, arch: 'amd64' | 'arm64') =>
  ({ url: mirrored(cluster, r.url.replaceAll('{version}', r.version).replaceAll('{arch}', arch)), sha256: r.sha256[arch] });

/** What the leader installs the pod network and the Gateway API CRDs with. */
function cniOf(cluster: Cluster, n: ResolvedNode, sources: PackageSources): Assembly['cni'] {
  const c = cluster.config.cluster;
  const g = c.addons.gatewayApi;
  const gw = g ? sources.gatewayApi.sha256[g.channel][g.version] : undefined;
  const cilium = c.cni.plugin === 'cilium';
  return {
    plugin: c.cni.plugin,
    version: c.cni.version ?? null,
    podCidr: c.podCidr,
    kubeProxyReplacement: kubeProxyReplaced(cluster),
    apiServer: { host: c.controlPlaneEndpoint.vip, port: c.controlPlaneEndpoint.port },
    tool: { name: cilium ? 'cilium' : 'helm', ...release(cluster, cilium ? sources.cni.ciliumCli : sources.cni.helm, archOf(n)) },
    repository: mirrored(cluster, cilium ? sources.cni.ciliumRepository : sources.cni.calicoRepository),
    downloadsMirror: c.mirrors.downloads?.replace(/\/$/, '') ?? null,
    // A version without a pinned digest is refused by check (gateway-api-version); none is planned.
    gatewayApi: g && gw ? { url: mirrored(cluster, sources.gatewayApi.url.replaceAll('{version}', g.version).replaceAll('{channel}', g.channel)), sha256: gw } : null,
  };
}

/** Does the node assemble, and if so how. */
export function assemblyOf(cluster: Cluster, n: ResolvedNode, sources: PackageSources): Assembly | null {
  const c = cluster.config.cluster;
  const leader = leaderOf(cluster);
  if (!c.selfAssembly || !leader) return null;
  if (n.config.role === 'etcd') return c.etcd.topology === 'external' ? etcdNode(cluster, n, sources) : null;
  const cps = cluster.nodes.filter((x) => x.config.role === 'control-plane');
  // Control planes join in config order after the leader, one at a time.
  const order = [leader, ...cps.filter((x) => x !== leader)];
  const index = order.indexOf(n);
  const before = index > 0 ? order[index - 1]! : null;
  const part: Assembly['part'] = n === leader ? 'init' : n.config.role === 'control-plane' ? 'control-plane' : 'worker';
  const e = c.controlPlaneEndpoint;
  const minor = minorOf(c.kubernetesVersion);
  const k = sources.kubernetes;
  const kubeBase = c.mirrors.kubernetes?.replace(/\/$/, '');
  const sub = (url: string): string => (kubeBase ? url.replace('https://pkgs.k8s.io', kubeBase) : url).replaceAll('{minor}', minor);
  const d = sources.containerd;
  const dockerUrl = c.mirrors.containerd?.replace(/\/$/, '') ?? d.url;
  const holdsVip = n.config.role === 'control-plane';
  const keepalived = holdsVip && e.provider !== 'kube-vip';
  const kv = sources.kubeVip;
  const etcdMember = etcdMembers(cluster).includes(n);
  return {
    leader: leader.config.hostname,
    part,
    // Stacked etcd only: one learner at a time. External etcd members are not the control planes'.
    after: part === 'control-plane' && c.etcd.topology === 'stacked' && before && before !== leader ? { hostname: before.config.hostname, address: addressOf(before) } : null,
    nodes: cluster.nodes.filter((x) => x.config.role !== 'etcd').map((x) => x.config.hostname),
    controlPlanes: cluster.nodes.filter((x) => x.config.role === 'control-plane').map((x) => x.config.hostname),
    etcdEndpoints: etcdMembers(cluster).flatMap((m) => (addressOf(m) ? [`https://${addressOf(m)}:2379`] : [])),
    apiServerPort: API_SERVER_PORT,
    etcd: null,
    cni: part === 'init' ? cniOf(cluster, n, sources) : null,
    vip: holdsVip ? {
      provider: e.provider,
      image: e.provider === 'kube-vip' ? `${c.mirrors.images ? `${c.mirrors.images}/kube-vip` : kv.image}:v${kv.version}` : null,
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

/** An external etcd node: a member of the new cluster every etcd node forms, run by systemd (kubeadm-ha.md §3.4). */
function etcdNode(cluster: Cluster, n: ResolvedNode, sources: PackageSources): Assembly {
  const c = cluster.config.cluster;
  const members = etcdMembers(cluster);
  const e = sources.etcd;
  const arch = archOf(n);
  const url = mirrored(cluster, e.url.replaceAll('{version}', e.version).replaceAll('{arch}', arch));
  const release = c.etcd.source === 'release';
  return {
    leader: leaderOf(cluster)!.config.hostname,
    part: 'etcd',
    after: null,
    nodes: cluster.nodes.filter((x) => x.config.role !== 'etcd').map((x) => x.config.hostname),
    controlPlanes: cluster.nodes.filter((x) => x.config.role === 'control-plane').map((x) => x.config.hostname),
    etcdEndpoints: members.flatMap((m) => (addressOf(m) ? [`https://${addressOf(m)}:2379`] : [])),
    apiServerPort: API_SERVER_PORT,
    etcd: {
      version: release ? e.version : null,
      url: release ? url : null,
      sha256: release ? e.sha256[arch] : null,
      initialCluster: members.map((m) => `${m.config.hostname}=https://${addressOf(m) ?? m.config.hostname}:2380`).join(','),
    },
    vip: null,
    cni: null,
    packages: null,
    imageRepository: c.mirrors.images ?? '',
  };
}
