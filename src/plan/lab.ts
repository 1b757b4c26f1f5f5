import { createHash } from 'node:crypto';
import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { imgforgeError } from '../errors/error.ts';
import { selectNodes } from './targets.ts';
import { dgram, qemuArgs } from './vm.ts';
import type { LabMode, Substitution } from './lab-config.ts';
import type { LabNetwork } from './lab-network.ts';

/** What `lab up` was asked and what the host offers; the executor reads these, the plan decides. */
export interface LabRequest {
  readonly mode: LabMode;
  /** Nodes to boot (hostnames or board names); empty: all. */
  readonly targets: readonly string[];
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly kvm: boolean;
  /** OVMF's code and variable-store template. */
  readonly firmware: { readonly code: string; readonly vars: string };
  /** A free host port per node with a static address, forwarded to its SSH port. */
  readonly sshPorts: Readonly<Record<string, number>>;
  /** The package source the lab serves (--source): its folder and a free host port. */
  readonly source?: { readonly dir: string; readonly port: number } | undefined;
  /** Two free UDP ports per node and for the router (ROUTER): the QEMU's own and the switch's for it. */
  readonly lanPorts: Readonly<Record<string, { readonly qemu: number; readonly switch: number }>>;
}

/** Where the nodes reach a service on the host's 127.0.0.1: slirp maps its own (the gateway's) address there. */
export const labSourceUrl = (network: LabNetwork, port: number): string => `http://${network.gateway}:${port}`;

/** One port of the lab's switch (execute/lab-switch.ts). */
export interface SwitchPort {
  readonly name: string;
  /** The switch's UDP port for this QEMU. */
  readonly port: number;
  /** The QEMU's own UDP port, where its frames come from and go to. */
  readonly peer: number;
  /** A node's MAC (lower case); null for the router, which takes what is for no node. */
  readonly mac: string | null;
}

/** The router's key in lanPorts: no hostname starts with "@". */
export const ROUTER = '@router';

export interface LabNode {
  readonly hostname: string;
  readonly role: string;
  readonly board: string;
  /** The board it runs as, when not its own, and why. */
  readonly substituted: Substitution | null;
  readonly address: string;
  readonly mac: string;
  /** 127.0.0.1:<port> reaches its SSH server; null for a DHCP node (its address is not known in advance). */
  readonly sshPort: number | null;
  /** Virtual disk size: the node's disk, else 16 GiB (the overlay is sparse). */
  readonly diskBytes: number;
  readonly boots: boolean;
  /** The UEFI variable store the node's own copy starts from; null for a legacy BIOS node. */
  readonly varsTemplate: string | null;
  /** qemu-system-x86_64's arguments, relative to the lab folder (QEMU runs there). */
  readonly qemu: readonly string[];
}

/** A lab, decided without I/O: what `lab up` starts and `lab status` reads. */
export interface LabPlan {
  readonly cluster: string;
  readonly mode: LabMode;
  readonly network: LabNetwork;
  /** Whether the nodes assemble the cluster (cluster.selfAssembly); if not, "formed" is every node's first boot done. */
  readonly assemble: boolean;
  /** Who `lab ssh` logs in as: the config's first user. */
  readonly sshUser: string | null;
  /** The router: a QEMU with no machine whose user network (slirp) is the LAN's gateway, resolver and DHCP server. */
  readonly router: readonly string[];
  /** The switch's ports (lab-switch.ts): a node's frames reach only the node they are for. */
  readonly switch: readonly SwitchPort[];
  /** The package source: served from dir on 127.0.0.1:port, which the nodes reach at url. */
  readonly source: { readonly dir: string; readonly port: number; readonly url: string } | null;
  readonly nodes: readonly LabNode[];
}

const DEFAULT_DISK = 16 * 2 ** 30;

/** A node without a MAC in the config gets one derived from its name, in QEMU's 52:54:00 prefix. */
export function labMac(node: ResolvedNode, cluster: string): string {
  if (node.config.mac) return node.config.mac.toLowerCase();
  const h = createHash('sha256').update(`${cluster}/${node.config.hostname}`).digest();
  return ['52', '54', '00', ...[h[0]!, h[1]!, h[2]!].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

function ports(req: LabRequest, name: string): { local: number; remote: number } {
  const p = req.lanPorts[name];
  if (!p) throw new Error(`no LAN ports for ${name}`);
  return { local: p.qemu, remote: p.switch };
}

/**
 * The router joins slirp (gateway, resolver, DHCP, SSH forwards, NAT to the host and beyond) to
 * its switch port through QEMU's hub 0, its only two members: no root, no tap device.
 */
function routerArgs(network: LabNetwork, nodes: readonly LabNode[], req: LabRequest): string[] {
  const n = network;
  const fwd = nodes.filter((x) => x.sshPort !== null).map((x) => `,hostfwd=tcp:127.0.0.1:${x.sshPort}-${x.address.split('/')[0]}:22`).join('');
  return [
    '-machine', 'none', '-nodefaults', '-display', 'none', '-monitor', 'none', '-name', 'imgforge-lab-router',
    '-netdev', `user,id=up,net=${n.subnet},host=${n.gateway},dns=${n.resolver},dhcpstart=${n.dhcpStart}${fwd}`,
    '-netdev', dgram('sw', ports(req, ROUTER)),
    '-netdev', 'hubport,id=h0,hubid=0,netdev=up',
    '-netdev', 'hubport,id=h1,hubid=0,netdev=sw',
  ];
}

/** The lab for a cluster already moved onto its lab boards (labConfigValue); every node gets a hub port, the targets boot. */
export function planLab(cluster: Cluster, subs: readonly Substitution[], network: LabNetwork, req: LabRequest): LabPlan {
  const booting = new Set(selectNodes(cluster, req.targets).map((n) => n.config.hostname));
  const assemble = cluster.config.cluster.selfAssembly;
  const nodes = cluster.nodes.map((node): LabNode => {
    const host = node.config.hostname;
    const p = node.profile;
    if (p.arch !== 'amd64' || !p.boot.firmware.some((f) => f === 'uefi' || f === 'bios')) {
      throw imgforgeError('Unsupported', { what: `Running ${host} (${node.config.board}) in the lab` });
    }
    const firmware = p.boot.firmware.includes('uefi') ? 'uefi' : 'bios';
    const mac = labMac(node, cluster.config.cluster.name);
    const sshPort = node.config.address === 'dhcp' ? null : req.sshPorts[host] ?? null;
    const diskBytes = node.diskSize ?? DEFAULT_DISK;
    return {
      hostname: host, role: node.config.role, board: subs.find((s) => s.hostname === host)?.board ?? node.config.board,
      substituted: subs.find((s) => s.hostname === host) ?? null, address: node.config.address, mac, sshPort, diskBytes,
      boots: booting.has(host), varsTemplate: firmware === 'uefi' ? req.firmware.vars : null,
      qemu: [...qemuArgs({
        arch: 'amd64', firmware, disk: `${host}.qcow2`, code: req.firmware.code, vars: `${host}.vars`, kvm: req.kvm,
        memoryMiB: req.memoryMiB, cpus: req.cpus, mac, qmp: `${host}.qmp`, events: `${host}.events`, console: `${host}.console`,
        lan: ports(req, host), assemble,
      }), '-name', `imgforge-lab-${host}`],
    };
  });
  const sw: SwitchPort[] = [
    { name: ROUTER, port: req.lanPorts[ROUTER]!.switch, peer: req.lanPorts[ROUTER]!.qemu, mac: null },
    ...nodes.map((n) => ({ name: n.hostname, port: req.lanPorts[n.hostname]!.switch, peer: req.lanPorts[n.hostname]!.qemu, mac: n.mac })),
  ];
  return {
    cluster: cluster.config.cluster.name, mode: req.mode, network, assemble, sshUser: cluster.config.users[0]?.name ?? null,
    router: routerArgs(network, nodes, req), switch: sw, nodes,
    source: req.source ? { ...req.source, url: labSourceUrl(network, req.source.port) } : null,
  };
}
