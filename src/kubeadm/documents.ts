/**
 * The kubeadm configuration of one node, rendered from the config and the cluster's secrets
 * (pure). The leader gets InitConfiguration, ClusterConfiguration, KubeletConfiguration and,
 * when kube-proxy runs, KubeProxyConfiguration: kubeadm uploads the last three for the nodes that
 * join. Every other control plane and every worker gets a JoinConfiguration that discovers the
 * cluster through the endpoint with the pre-seeded token and pins the cluster CA by its hash.
 * Facts: ../shared/reference/kubeadm-ha.md §1, §4, §8.
 */
import { stringify } from 'yaml';
import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { imgforgeError } from '../errors/error.ts';
import { formatIssues } from '../errors/zod.ts';
import { etcdMembers } from '../config/topology.ts';
import { caCertHash } from '../secrets/ca-hash.ts';
import type { SecretsBundle } from '../secrets/schema.ts';
import { tokenOf } from '../secrets/scope.ts';
import { parseCidr } from '../util/net.ts';
import { MODELS, type KubeadmDocument } from './schema.ts';

/** containerd's CRI socket (kubeadm's default for containerd, said explicitly). */
export const CRI_SOCKET = 'unix:///var/run/containerd/containerd.sock';
/** The API server's own port on every control plane (kubeadm constants KubeAPIServerPort). */
export const API_SERVER_PORT = 6443;
const PKI = '/etc/kubernetes/pki';
/** The group kubeadm's default node token carries (kubeadm constants NodeBootstrapTokenAuthGroup). */
const NODE_TOKEN_GROUP = 'system:bootstrappers:kubeadm:default-node-token';

/** The control plane that runs `kubeadm init`: the one the config names, else the first in config order. */
export function leaderOf(cluster: Cluster): ResolvedNode | undefined {
  const named = cluster.config.cluster.leader;
  const cps = cluster.nodes.filter((n) => n.config.role === 'control-plane');
  return named ? cps.find((n) => n.config.hostname === named) : cps[0];
}

/** host:port where every node and client reaches the API (the VIP's DNS name when given). */
export function endpointOf(cluster: Cluster): string {
  const e = cluster.config.cluster.controlPlaneEndpoint;
  return `${e.dnsName ?? e.vip}:${e.port}`;
}

const addressOf = (n: ResolvedNode): string | undefined => (n.config.address === 'dhcp' ? undefined : parseCidr(n.config.address)!.address);

function nodeRegistration(cluster: Cluster, n: ResolvedNode) {
  const c = cluster.config.cluster;
  const ip = addressOf(n);
  // kubeadm taints a control plane only when taints is absent; imgforge always says which it wants.
  const own = n.config.role === 'control-plane' && !c.schedulableControlPlanes
    ? [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' as const }] : [];
  return {
    name: n.config.hostname,
    criSocket: CRI_SOCKET,
    taints: [...own, ...n.config.taints.map((t) => ({ key: t.key, ...(t.value === undefined ? {} : { value: t.value }), effect: t.effect }))],
    ...(ip ? { kubeletExtraArgs: [{ name: 'node-ip', value: ip }] } : {}),
  };
}

function clusterConfiguration(cluster: Cluster) {
  const c = cluster.config.cluster;
  const e = c.controlPlaneEndpoint;
  const external = c.etcd.topology === 'external';
  return {
    apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'ClusterConfiguration',
    clusterName: c.name,
    kubernetesVersion: `v${c.kubernetesVersion}`,
    controlPlaneEndpoint: endpointOf(cluster),
    ...(c.mirrors.images ? { imageRepository: c.mirrors.images } : {}),
    networking: { podSubnet: c.podCidr, serviceSubnet: c.serviceCidr, dnsDomain: c.dnsDomain },
    // Both the VIP and its name, so a client may use either.
    apiServer: { certSANs: [e.vip, ...(e.dnsName ? [e.dnsName] : [])] },
    etcd: external
      ? { external: {
        endpoints: etcdMembers(cluster).map((m) => `https://${addressOf(m) ?? m.config.hostname}:2379`),
        caFile: `${PKI}/etcd/ca.crt`, certFile: `${PKI}/apiserver-etcd-client.crt`, keyFile: `${PKI}/apiserver-etcd-client.key`,
      } }
      : { local: { dataDir: '/var/lib/etcd' } },
    proxy: { disabled: kubeProxyReplaced(cluster) },
    encryptionAlgorithm: c.encryptionAlgorithm,
  };
}

/** Cilium with kubeProxyReplacement runs the cluster without kube-proxy (v1beta4 proxy.disabled). */
export const kubeProxyReplaced = (cluster: Cluster): boolean =>
  cluster.config.cluster.cni.plugin === 'cilium' && cluster.config.cluster.cni.kubeProxyReplacement;

/** The documents one node's kubeadm reads, in the order kubeadm expects them; none for an external etcd node. */
export function kubeadmDocuments(cluster: Cluster, n: ResolvedNode, secrets: SecretsBundle): KubeadmDocument[] {
  if (n.config.role === 'etcd') return [];
  const c = cluster.config.cluster;
  const leader = leaderOf(cluster);
  const ip = addressOf(n);
  const local = { ...(ip ? { advertiseAddress: ip } : {}), bindPort: API_SERVER_PORT };
  const docs: unknown[] = [];
  if (n === leader) {
    // The cluster's token only: one rotate-token makes for a node flashed later changes that node's
    // seed alone, and is registered in the running cluster (kubeadm token create), not by init.
    const tokens = [secrets.token];
    docs.push({
      apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'InitConfiguration',
      bootstrapTokens: tokens.map((t) => ({
        token: `${t.id}.${t.secret}`,
        description: `imgforge: nodes of ${c.name} join with it; the leader deletes it once every node has joined`,
        expires: t.expires, usages: ['signing', 'authentication'], groups: [NODE_TOKEN_GROUP],
      })),
      nodeRegistration: nodeRegistration(cluster, n),
      localAPIEndpoint: local,
    }, clusterConfiguration(cluster), {
      apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration',
      cgroupDriver: 'systemd', containerRuntimeEndpoint: CRI_SOCKET, failSwapOn: true, failCgroupV1: true,
      clusterDomain: c.dnsDomain, rotateCertificates: true,
    });
    if (!kubeProxyReplaced(cluster)) docs.push({ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', clusterCIDR: c.podCidr, mode: 'iptables' });
  } else {
    const t = tokenOf(secrets, n.config.hostname);
    docs.push({
      apiVersion: 'kubeadm.k8s.io/v1beta4', kind: 'JoinConfiguration',
      nodeRegistration: nodeRegistration(cluster, n),
      discovery: { bootstrapToken: { token: `${t.id}.${t.secret}`, apiServerEndpoint: endpointOf(cluster), caCertHashes: [caCertHash(secrets.cas.cluster.cert)] } },
      ...(n.config.role === 'control-plane' ? { controlPlane: { localAPIEndpoint: local } } : {}),
    });
  }
  return docs.map((d) => {
    const kind = (d as { kind: keyof typeof MODELS }).kind;
    const r = MODELS[kind].safeParse(d);
    if (!r.success) throw imgforgeError('RenderedInvalid', { node: n.config.hostname, file: `kubeadm ${kind}`, detail: formatIssues(r.error.issues).join('; ') });
    return r.data;
  });
}

/** The documents as one YAML stream, as `kubeadm init|join --config` reads it. */
export const kubeadmYaml = (docs: readonly KubeadmDocument[]): string =>
  docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
