import ipaddr from 'ipaddr.js';
import type { ResolvedConfig } from '../config/schema/index.ts';
import { imgforgeError } from '../errors/error.ts';
import { compareIp, contains, networkOf, parseCidr } from '../util/net.ts';

/**
 * The lab's one LAN: the nodes' own subnet, with QEMU's user network (slirp) on it as the router
 * at the config's gateway address. Slirp NATs the nodes to the outside and maps its own address to
 * the host's 127.0.0.1, so a mirror or seed server on the host is at http://<gateway>:<port>.
 */
export interface LabNetwork {
  /** e.g. 192.168.1.0/24 */
  readonly subnet: string;
  readonly gateway: string;
  /** Slirp's resolver: an address of the subnet that no node, VIP or gateway holds (slirp refuses the gateway's). */
  readonly resolver: string;
  /** The DNS servers the nodes are given in the lab, when they differ from the config's (which named the gateway). */
  readonly dns: readonly string[] | null;
  /** Slirp's DHCP server hands out 16 addresses from here (NB_BOOTP_CLIENTS, libslirp bootp.h), above every static one. */
  readonly dhcpStart: string;
}

const SLIRP_LEASES = 16;

const step = (ip: string, by: number): string => ipaddr.fromByteArray(ipaddr.parse(ip).toByteArray().map((_, i, a) => {
  // Add `by` to the address as a big-endian number (IPv4 only here).
  const n = a.reduce((acc, b) => acc * 256 + b, 0) + by;
  return Math.floor(n / 256 ** (a.length - 1 - i)) % 256;
})).toString();

/** The LAN the config describes, as the lab will build it; an input error when the lab cannot. */
export function labNetwork(config: ResolvedConfig): LabNetwork {
  const statics = config.nodes.filter((n) => n.address !== 'dhcp').map((n) => ({ host: n.hostname, cidr: parseCidr(n.address)! }));
  const first = statics[0];
  if (!first) throw imgforgeError('Unsupported', { what: 'A lab of DHCP-only nodes (the lab builds the LAN from the nodes\' static addresses; give the control planes theirs)' });
  if (first.cidr.family !== 'ipv4') throw imgforgeError('Unsupported', { what: 'An IPv6 lab LAN (QEMU\'s user network routes IPv4)' });
  const subnet = parseCidr(networkOf(first.cidr))!;
  const outside = statics.filter((s) => !contains(subnet, s.cidr.address));
  if (outside.length) throw imgforgeError('Unsupported', { what: `A lab across subnets (${outside.map((s) => s.host).join(', ')} ${outside.length === 1 ? 'is' : 'are'} not on ${first.host}'s ${networkOf(first.cidr)})` });
  const gateway = config.network.gateway;
  if (!gateway || !contains(subnet, gateway)) throw imgforgeError('Unsupported', { what: `A lab whose gateway is not on the nodes' subnet ${networkOf(first.cidr)} (network.gateway)` });
  const vip = config.cluster.controlPlaneEndpoint.vip;
  const used = [gateway, ...statics.map((s) => s.cidr.address), ...(contains(subnet, vip) ? [vip] : [])];
  const taken = (ip: string): boolean => used.some((u) => compareIp(u, ip) === 0);
  const last = step(subnet.address, 2 ** (32 - subnet.prefix) - 2);
  const highest = used.reduce((a, b) => (compareIp(a, b) >= 0 ? a : b));
  const dhcpStart = step(highest, 1);
  if (compareIp(step(dhcpStart, SLIRP_LEASES - 1), last) > 0) {
    throw imgforgeError('Unsupported', { what: `A lab LAN with no room for QEMU's ${SLIRP_LEASES} DHCP leases above ${highest} on ${networkOf(first.cidr)}` });
  }
  const wanted = config.network.dns[0];
  if (wanted && contains(subnet, wanted) && !taken(wanted)) return { subnet: networkOf(first.cidr), gateway, resolver: wanted, dns: null, dhcpStart };
  let resolver = step(subnet.address, 2);
  while (taken(resolver)) resolver = step(resolver, 1);
  if (compareIp(resolver, dhcpStart) >= 0) throw imgforgeError('Unsupported', { what: `A lab LAN with no free address for QEMU's resolver on ${networkOf(first.cidr)}` });
  // A resolver outside the subnet is reached through slirp's NAT; one on the subnet here is the
  // gateway or a node, which serve no DNS in the lab (slirp refuses to answer DNS at its own address).
  const dns = !wanted || contains(subnet, wanted) ? [resolver, ...config.network.dns.slice(1)] : null;
  return { subnet: networkOf(first.cidr), gateway, resolver, dns, dhcpStart };
}
