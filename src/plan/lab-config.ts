import type { Cluster } from '../config/resolve.ts';
import type { Profile } from '../profiles/schema.ts';
import type { LabNetwork } from './lab-network.ts';
import { isPlainObject } from '../profiles/merge.ts';

/**
 * online: the nodes boot their own bases (an x86 node's Ubuntu cloud image) and install the real
 * packages. offline: no Ubuntu image can be had, so every node boots the Debian base imgforge
 * builds from packages (the x86-debian profile), and the lab serves what the nodes download.
 */
export type LabMode = 'online' | 'offline';

/** A node that runs in the lab on another board than its config names, and why: the lab says it out loud. */
export interface Substitution {
  readonly hostname: string;
  readonly board: string;
  readonly runsAs: string;
  readonly why: string;
}

/** The lab's VMs are QEMU x86-64 machines (q35), started by UEFI (OVMF) or legacy BIOS (SeaBIOS). */
export const bootsInLab = (p: Profile): boolean => p.arch === 'amd64' && p.boot.firmware.some((f) => f === 'uefi' || f === 'bios');

const release = (p: Profile | undefined): string => (p ? `${p.base.os.id === 'ubuntu' ? 'Ubuntu' : 'Debian'} ${p.base.os.version}` : 'unknown');

/** Which board a node runs as in the lab; null when it runs as itself. */
export function labBoard(board: string, profiles: ReadonlyMap<string, Profile>, mode: LabMode): Omit<Substitution, 'hostname' | 'board'> | null {
  const own = profiles.get(board);
  if (mode === 'offline') {
    if (board === 'x86-debian') return null;
    return { runsAs: 'x86-debian', why: `offline: ${release(own)} cannot be downloaded here, so an x86-64 VM of Debian 12 built from packages, with the same seed and bundle` };
  }
  if (own && bootsInLab(own)) return null;
  const x86 = profiles.get('x86');
  const same = release(own) === release(x86);
  return {
    runsAs: 'x86',
    why: `QEMU does not emulate the ${own?.title ?? board}: an x86-64 VM of ${release(x86)}${same ? '' : ` (the board's base is ${release(own)})`}, with the same seed and bundle`,
  };
}

/** How the lab changes the config it builds from; each change is said by `lab up`. */
export interface LabRewrite {
  readonly subs: readonly Substitution[];
  /** Replaces network.dns when QEMU's resolver needs an address of its own (it cannot share the gateway's). */
  readonly dns?: readonly string[] | undefined;
  /** Replaces network.ntp: offline, the gateway's address, where the lab's switch answers NTP. */
  readonly ntp?: readonly string[] | undefined;
  /** cluster.mirrors entries pointing at the lab's package source. */
  readonly mirrors?: Readonly<Record<string, string>> | undefined;
  /** containerd and external etcd from the base's distribution (offline: Docker's and GitHub's cannot be reached). */
  readonly distro?: boolean | undefined;
  /** Offline: each node's bootstrap (its x86-debian base's, with what the stages use among its packages), by hostname. */
  readonly bootstraps?: Readonly<Record<string, { readonly suite: string; readonly mirror: string; readonly packages: readonly string[] }>> | undefined;
}

/**
 * The config the lab builds from: each substituted node on its lab board, without the overrides
 * and drive it had for its own board (they patch that board's profile: its base, its device
 * name), keeping its disk size, layout, role and addresses; then the lab's network and sources.
 */
export function labConfigValue(value: unknown, r: LabRewrite): unknown {
  if (!isPlainObject(value)) return value;
  const runsAs = new Map(r.subs.map((s) => [s.hostname, s.runsAs]));
  const withPackages = (n: Record<string, unknown>): Record<string, unknown> => {
    const boot = r.bootstraps?.[n['hostname'] as string];
    if (!boot) return n;
    const o = isPlainObject(n['overrides']) ? n['overrides'] : {};
    const base = isPlainObject(o['base']) ? o['base'] : {};
    const bootstrap = isPlainObject(base['bootstrap']) ? base['bootstrap'] : {};
    return { ...n, overrides: { ...o, base: { ...base, bootstrap: { suite: boot.suite, mirror: boot.mirror, ...bootstrap, packages: [...boot.packages] } } } };
  };
  const nodes = Array.isArray(value['nodes']) ? (value['nodes'] as unknown[]).map((n) => {
    if (!isPlainObject(n) || typeof n['hostname'] !== 'string') return n;
    if (!runsAs.has(n['hostname'])) return withPackages(n);
    const { overrides: _overrides, disk, ...rest } = n;
    const size = isPlainObject(disk) ? disk['size'] : undefined;
    return withPackages({ ...rest, board: runsAs.get(n['hostname']), ...(size === undefined ? {} : { disk: { size } }) });
  }) : value['nodes'];
  const net = isPlainObject(value['network']) ? value['network'] : {};
  const network = r.dns || r.ntp ? { ...net, ...(r.dns ? { dns: [...r.dns] } : {}), ...(r.ntp ? { ntp: [...r.ntp] } : {}) } : value['network'];
  const c = isPlainObject(value['cluster']) ? value['cluster'] : undefined;
  const sub = (k: string): Record<string, unknown> => (c && isPlainObject(c[k]) ? c[k] : {});
  const cluster = c ? {
    ...c,
    ...(r.mirrors ? { mirrors: { ...sub('mirrors'), ...r.mirrors } } : {}),
    ...(r.distro ? { runtime: { ...sub('runtime'), source: 'distro' }, etcd: { ...sub('etcd'), source: 'distro' } } : {}),
  } : value['cluster'];
  return { ...value, cluster, nodes, network };
}

/**
 * What the offline base carries besides the x86-debian profile's packages: what the stages run
 * and Ubuntu's cloud image has (curl, gnupg, openssl), and the distribution packages the stages
 * would install (containerd, keepalived, HAProxy, etcdctl), so a node installs only what the
 * lab's source serves. etcd-server is not among them: Debian starts it at once, and kubeadm init
 * refuses a node whose /var/lib/etcd holds data.
 */
export const OFFLINE_PACKAGES = ['curl', 'gnupg', 'openssl', 'containerd', 'keepalived', 'haproxy', 'etcd-client'] as const;

/** The offline base of a node: its own bootstrap when it has one (an x86-debian node), else x86-debian's, with OFFLINE_PACKAGES. */
export function offlineBootstrap(own: Profile, x86Debian: Profile | undefined): { suite: string; mirror: string; packages: string[] } | undefined {
  const b = own.base.bootstrap ?? x86Debian?.base.bootstrap;
  return b ? { suite: b.suite, mirror: b.mirror, packages: [...new Set([...b.packages, ...OFFLINE_PACKAGES])] } : undefined;
}

/**
 * The lab's changes for a cluster: its network's DNS; with a package source at sourceUrl, the
 * mirrors pointing there; offline, Debian's containerd and etcd (unless the source mirrors
 * Docker's repository) and each node's offline base.
 */
export function labRewrite(cluster: Cluster, subs: readonly Substitution[], network: LabNetwork, o: { offline: boolean; sourceUrl?: string | undefined; dockerMirror: boolean }): LabRewrite {
  const url = o.sourceUrl;
  const x86Debian = cluster.profiles.get('x86-debian');
  return {
    subs, dns: network.dns ?? undefined, distro: o.offline && !o.dockerMirror, ntp: o.offline ? [network.gateway] : undefined,
    mirrors: url ? { kubernetes: `${url}/kubernetes`, downloads: `${url}/downloads`, ...(o.dockerMirror ? { containerd: `${url}/containerd` } : {}) } : undefined,
    bootstraps: o.offline
      ? Object.fromEntries(cluster.nodes.flatMap((n) => { const b = offlineBootstrap(n.profile, x86Debian); return b ? [[n.config.hostname, b]] : []; }))
      : undefined,
  };
}

/** What the lab changed or cannot do, said by `lab up` (and in its --json as notes). */
export function labNotes(o: { network: LabNetwork; subs: readonly Substitution[]; assemble: boolean; rewrite: LabRewrite; offline: boolean; source?: { dir: string; url: string } | undefined }): string[] {
  const n = o.network;
  return [
    ...(n.dns ? [`DNS in the lab: ${n.dns.join(', ')} (QEMU's resolver: it cannot answer at the gateway's address)`] : []),
    ...o.subs.map((s) => `${s.hostname}: ${s.board} runs as ${s.runsAs}: ${s.why}`),
    ...(o.assemble ? [] : ['cluster.selfAssembly is off: "formed" means every node finished its first boot']),
    ...(o.source ? [`packages and downloads from ${o.source.dir}, served to the nodes at ${o.source.url} (cluster.mirrors.kubernetes and .downloads; its packages.yaml pins them)`] : []),
    ...(o.rewrite.ntp ? [`offline: NTP at ${n.gateway}, answered by the lab's switch from this host's clock (network.ntp)`] : []),
    ...(o.rewrite.distro ? ['offline: containerd and etcd from Debian (runtime.source and etcd.source "distro"); containerd, keepalived, HAProxy and etcdctl already in the base'] : []),
    ...(o.offline && o.assemble && !o.source ? ['warning: offline with no --source: the assembly stages cannot download kubeadm, kubelet and kubectl'] : []),
  ];
}
