import ipaddr from 'ipaddr.js';

/** An address with its prefix, e.g. 192.168.1.11/24. */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** Only the canonical forms: ipaddr.js also accepts legacy ones like "10.1" that no config means. */
function isStrictIp(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text) || (text.includes(':') && ipaddr.IPv6.isValid(text));
}

export function parseIp(text: string): string | undefined {
  return isStrictIp(text) ? ipaddr.parse(text).toString() : undefined;
}

export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0 || !isStrictIp(text.slice(0, slash)) || !/^\d{1,3}$/.test(text.slice(slash + 1))) return undefined;
  try {
    // The family is known from the text: ipaddr.parseCIDR would try IPv6 first, slowly.
    const [addr, prefix] = text.includes(':') ? ipaddr.IPv6.parseCIDR(text) : ipaddr.IPv4.parseCIDR(text);
    return { address: addr.toString(), prefix, family: addr.kind() };
  } catch {
    return undefined;
  }
}

/** The network address of a CIDR: 192.168.1.11/24 -> 192.168.1.0/24. */
export function networkOf(c: Cidr): string {
  const addr = ipaddr.parse(c.address);
  const net = addr.kind() === 'ipv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(`${c.address}/${c.prefix}`)
    : ipaddr.IPv6.networkAddressFromCIDR(`${c.address}/${c.prefix}`);
  return `${net.toString()}/${c.prefix}`;
}

export function contains(net: Cidr, ip: string): boolean {
  const a = ipaddr.parse(ip);
  const n = ipaddr.parse(net.address);
  return a.kind() === n.kind() && a.match(n, net.prefix);
}

/** Two CIDRs overlap when either contains the other's network address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const shorter = a.prefix <= b.prefix ? a : b;
  const longer = shorter === a ? b : a;
  return contains(shorter, longer.address);
}

/**
 * A MetalLB pool entry is a CIDR or a range "a-b" (metallb.io IPAddressPool spec.addresses).
 * Returns the first and last address as numbers for IPv4, or undefined when malformed.
 */
export function parseRange(text: string): { first: string; last: string } | undefined {
  if (text.includes('-')) {
    const [first, last, ...rest] = text.split('-').map((s) => s.trim());
    if (rest.length || !first || !last || !isStrictIp(first) || !isStrictIp(last)) return undefined;
    const a = ipaddr.parse(first), b = ipaddr.parse(last);
    if (a.kind() !== b.kind() || compareIp(a.toString(), b.toString()) > 0) return undefined;
    return { first: a.toString(), last: b.toString() };
  }
  const c = parseCidr(text);
  if (!c) return undefined;
  const parsed = `${c.address}/${c.prefix}`;
  const [firstAddr, lastAddr] = c.family === 'ipv4'
    ? [ipaddr.IPv4.networkAddressFromCIDR(parsed), ipaddr.IPv4.broadcastAddressFromCIDR(parsed)]
    : [ipaddr.IPv6.networkAddressFromCIDR(parsed), ipaddr.IPv6.broadcastAddressFromCIDR(parsed)];
  return { first: firstAddr.toString(), last: lastAddr.toString() };
}

/** Order two addresses of the same family byte by byte. */
export function compareIp(a: string, b: string): number {
  const x = ipaddr.parse(a).toByteArray(), y = ipaddr.parse(b).toByteArray();
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

export function inRange(range: { first: string; last: string }, ip: string): boolean {
  if (ipaddr.parse(ip).kind() !== ipaddr.parse(range.first).kind()) return false;
  return compareIp(range.first, ip) <= 0 && compareIp(ip, range.last) <= 0;
}
