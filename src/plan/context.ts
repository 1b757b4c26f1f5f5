import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { parseCidr } from '../util/net.ts';
import { etcdMembers } from '../config/topology.ts';

/** Kernel modules every Kubernetes node loads: overlay for containerd's snapshotter, br_netfilter for bridged pod traffic (kubeadm-ha.md §4). */
const KUBERNETES_MODULES = ['overlay', 'br_netfilter'];
/** kubeadm's preflight requires ip_forward; bridge-nf-call keeps iptables seeing bridged traffic (install-kubeadm, kubeadm-ha.md §4). */
const KUBERNETES_SYSCTLS: Readonly<Record<string, string | number>> = {
  'net.ipv4.ip_forward': 1,
  'net.bridge.bridge-nf-call-iptables': 1,
  'net.bridge.bridge-nf-call-ip6tables': 1,
  // Many pods watching files (kubelet, log shippers) exhaust Ubuntu's default of 128 inotify instances.
  'fs.inotify.max_user_instances': 8192,
  'fs.inotify.max_user_watches': 524288,
};

/** The LAN interface's netplan id; renamed to it when matched by MAC, so keepalived can name it on any board. */
export const LAN_INTERFACE = 'lan0';

/** Everything the seed templates may read about one node. Built by a pure function; templates add no logic of their own. */
export interface SeedContext {
  readonly node: {
    readonly hostname: string;
    readonly fqdn: string | null;
    readonly role: string;
    readonly etcdMember: boolean;
    readonly board: string;
    readonly ip: string | null;
    readonly address: string | null;
    readonly labels: Readonly<Record<string, string>>;
  };
  readonly cluster: {
    readonly name: string;
    readonly kubernetesVersion: string;
    readonly vip: string;
    readonly port: number;
    readonly dnsName: string | null;
  };
  readonly network: {
    readonly iface: string;
    readonly match: { readonly macaddress: string } | { readonly name: string };
    readonly setName: boolean;
    readonly dhcp: boolean;
    readonly gateway: string | null;
    readonly dns: readonly string[];
    readonly search: readonly string[];
    readonly ntp: readonly string[];
    readonly mtu: number | null;
    readonly acceptRa: boolean;
  };
  readonly users: readonly {
    readonly name: string;
    readonly keys: readonly string[];
    readonly sudo: boolean;
    readonly groups: readonly string[];
    readonly shell: string;
    readonly hashedPassword: string | null;
  }[];
  /** /etc/hosts lines beyond localhost: the API endpoint name and every static node. */
  readonly hosts: readonly { readonly ip: string; readonly names: readonly string[] }[];
  readonly modules: readonly string[];
  readonly sysctls: readonly (readonly [string, string])[];
  readonly tuning: {
    readonly journal: 'persistent' | 'volatile';
    readonly journalMaxUse: string;
    readonly noatime: boolean;
    readonly fstrim: boolean;
    readonly disableUnits: readonly string[];
  };
  /** Modules whose absence fails the prepare stage; the rest only warn. */
  readonly requiredModules: readonly string[];
}

/** Addon-driven kernel modules: rbd for Rook-Ceph (rook.io prerequisites), iscsi_tcp for Longhorn (longhorn-iscsi-installation.yaml). */
function addonModules(cluster: Cluster): string[] {
  const { rookCeph, longhorn } = cluster.config.cluster.addons;
  return [...(rookCeph ? ['rbd'] : []), ...(longhorn ? ['iscsi_tcp'] : [])];
}

/** What every node's context shares, computed once per cluster: a plan of 500 nodes must not do it 500 times. */
const shared = new WeakMap<Cluster, { hosts: SeedContext['hosts']; etcd: ReadonlySet<ResolvedNode> }>();

function clusterFacts(cluster: Cluster): { hosts: SeedContext['hosts']; etcd: ReadonlySet<ResolvedNode> } {
  let facts = shared.get(cluster);
  if (!facts) {
    const domain = cluster.config.network.searchDomains[0];
    const ep = cluster.config.cluster.controlPlaneEndpoint;
    const hosts = [
      ...(ep.dnsName ? [{ ip: ep.vip, names: [ep.dnsName] }] : []),
      ...cluster.nodes.flatMap((o) => {
        const c = o.config.address === 'dhcp' ? undefined : parseCidr(o.config.address);
        return c ? [{ ip: c.address, names: domain ? [`${o.config.hostname}.${domain}`, o.config.hostname] : [o.config.hostname] }] : [];
      }),
    ];
    facts = { hosts, etcd: new Set(etcdMembers(cluster)) };
    shared.set(cluster, facts);
  }
  return facts;
}

export function seedContext(cluster: Cluster, n: ResolvedNode): SeedContext {
  const { config } = cluster;
  const cidr = n.config.address === 'dhcp' ? undefined : parseCidr(n.config.address);
  const domain = config.network.searchDomains[0];
  const ep = config.cluster.controlPlaneEndpoint;
  const byMac = config.network.match === 'mac' && n.config.mac !== undefined;
  const { hosts, etcd } = clusterFacts(cluster);
  const sysctls = { ...KUBERNETES_SYSCTLS, ...n.profile.tuning.sysctls };
  return {
    node: {
      hostname: n.config.hostname,
      fqdn: domain ? `${n.config.hostname}.${domain}` : null,
      role: n.config.role,
      etcdMember: etcd.has(n),
      board: n.config.board,
      ip: cidr?.address ?? null,
      address: cidr ? n.config.address : null,
      labels: n.config.labels,
    },
    cluster: { name: config.cluster.name, kubernetesVersion: config.cluster.kubernetesVersion, vip: ep.vip, port: ep.port, dnsName: ep.dnsName ?? null },
    network: {
      iface: LAN_INTERFACE,
      match: byMac ? { macaddress: n.config.mac! } : { name: config.network.interfaceName },
      setName: byMac,
      dhcp: cidr === undefined,
      gateway: config.network.gateway ?? null,
      dns: config.network.dns,
      search: config.network.searchDomains,
      ntp: config.network.ntp,
      mtu: config.network.mtu ?? null,
      acceptRa: config.network.acceptRa,
    },
    users: config.users.map((u) => ({ name: u.name, keys: u.sshAuthorizedKeys, sudo: u.sudo, groups: u.groups, shell: u.shell, hashedPassword: u.hashedPassword ?? null })),
    hosts,
    modules: [...new Set([...KUBERNETES_MODULES, ...addonModules(cluster), ...n.profile.tuning.modules])],
    requiredModules: KUBERNETES_MODULES,
    sysctls: Object.entries(sysctls).map(([k, v]) => [k, String(v)] as const).sort(([a], [b]) => a.localeCompare(b)),
    tuning: {
      journal: n.profile.tuning.journal,
      journalMaxUse: n.profile.tuning.journalMaxUse,
      noatime: n.profile.tuning.noatime,
      fstrim: n.profile.tuning.fstrim,
      disableUnits: n.profile.tuning.disableUnits,
    },
  };
}
