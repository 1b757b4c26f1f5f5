import { contains, overlaps, parseCidr, parseIp, parseRange, inRange, networkOf, type Cidr } from '../../util/net.ts';
import { nodePath, type Finding, type Rule } from '../finding.ts';

/** VIP placement, gateways and address-space overlaps between the LAN, pods, services and MetalLB. */
export const networkRules: Rule = ({ cluster }) => {
  const out: Finding[] = [];
  const { cluster: c, network } = cluster.config;
  const vip = parseIp(c.controlPlaneEndpoint.vip)!;
  const statics = cluster.nodes.flatMap((n) => {
    const cidr = n.config.address === 'dhcp' ? undefined : parseCidr(n.config.address);
    return cidr ? [{ n, cidr }] : [];
  });
  const lans = new Map<string, Cidr>();
  for (const s of statics) lans.set(networkOf(s.cidr), parseCidr(networkOf(s.cidr))!);

  // VRRP (keepalived) and kube-vip ARP mode announce the VIP on the control planes' own subnet (kubeadm ha-considerations.md).
  for (const { n, cidr } of statics) {
    if (n.config.role === 'control-plane' && !contains(cidr, vip)) {
      out.push({ id: 'vip-outside-subnet', severity: 'error',
        message: `The VIP ${vip} is outside ${n.config.hostname}'s subnet ${networkOf(cidr)}; the node cannot hold it.`,
        hint: 'Pick a free address in the control planes\' subnet.', paths: ['cluster.controlPlaneEndpoint.vip', nodePath(n, 'address')] });
    }
    if (cidr.address === vip) {
      out.push({ id: 'vip-is-node', severity: 'error', message: `The VIP ${vip} is ${n.config.hostname}'s own address.`,
        hint: 'The VIP must be an address no node owns.', paths: ['cluster.controlPlaneEndpoint.vip', nodePath(n, 'address')] });
    }
    if (network.gateway && cidr.address === parseIp(network.gateway)) {
      out.push({ id: 'address-is-gateway', severity: 'error', message: `${n.config.hostname}'s address is the gateway ${network.gateway}.`,
        paths: [nodePath(n, 'address'), 'network.gateway'] });
    }
    if (network.gateway && !contains(cidr, network.gateway)) {
      out.push({ id: 'gateway-outside-subnet', severity: 'error',
        message: `The gateway ${network.gateway} is outside ${n.config.hostname}'s subnet ${networkOf(cidr)}.`, paths: [nodePath(n, 'address'), 'network.gateway'] });
    }
  }
  if (statics.length && !network.gateway) {
    out.push({ id: 'gateway-missing', severity: 'error', message: 'Nodes have static addresses but network.gateway is not set.',
      hint: 'Set network.gateway to the LAN router.', paths: ['network.gateway'] });
  }
  // HAProxy on the control planes binds the endpoint port on every address, where the API server
  // already holds 6443 (kubeadm ha-considerations.md uses 8443 for HAProxy).
  if (c.controlPlaneEndpoint.provider === 'keepalived+haproxy' && c.controlPlaneEndpoint.port === 6443) {
    out.push({ id: 'haproxy-port', severity: 'error', message: 'HAProxy on the control planes cannot listen on 6443: the API server holds that port there.',
      hint: 'Set cluster.controlPlaneEndpoint.port to another port, e.g. 8443.', paths: ['cluster.controlPlaneEndpoint.port'] });
  }
  if (network.gateway && parseIp(network.gateway) === vip) {
    out.push({ id: 'vip-is-gateway', severity: 'error', message: `The VIP ${vip} is the gateway's address.`, paths: ['cluster.controlPlaneEndpoint.vip'] });
  }
  for (const n of cluster.nodes) {
    if (n.config.role === 'control-plane' && n.config.address === 'dhcp') {
      // Self-assembly also finds the control plane before it by its address (serial joins).
      out.push({ id: 'control-plane-dhcp', severity: cluster.config.cluster.selfAssembly ? 'error' : 'warning',
        message: `${n.config.hostname} is a control plane on DHCP: its etcd peer URL and API server address are written into certificates and manifests, and break when the lease changes${cluster.config.cluster.selfAssembly ? '; the control planes joining after it find it by its address' : ''}.`,
        hint: 'Give control planes static addresses.', paths: [nodePath(n, 'address')] });
    }
    if (n.config.role === 'control-plane' && !n.config.mac && network.match === 'mac') {
      out.push({ id: 'control-plane-no-mac', severity: 'warning',
        message: `${n.config.hostname} has no mac: its LAN interface is matched by name "${network.interfaceName}" and keepalived needs that exact interface.`,
        hint: 'Set the node\'s mac so the interface is renamed to lan0.', paths: [nodePath(n, 'mac')] });
    }
  }

  const pods = parseCidr(c.podCidr)!, services = parseCidr(c.serviceCidr)!;
  const spaces: { name: string; path: string; cidr: Cidr }[] = [
    { name: `pod network ${c.podCidr}`, path: 'cluster.podCidr', cidr: pods },
    { name: `service network ${c.serviceCidr}`, path: 'cluster.serviceCidr', cidr: services },
    ...[...lans.entries()].map(([name, cidr]) => ({ name: `LAN ${name}`, path: 'nodes', cidr })),
  ];
  for (let i = 0; i < spaces.length; i++) {
    for (let j = i + 1; j < spaces.length; j++) {
      const a = spaces[i]!, b = spaces[j]!;
      if (a.path === 'nodes' && b.path === 'nodes') continue;
      if (overlaps(a.cidr, b.cidr)) {
        out.push({ id: 'cidr-overlap', severity: 'error', message: `The ${a.name} overlaps the ${b.name}: packets to one would be routed to the other.`,
          hint: 'Choose pod and service networks outside the LAN and each other (Calico\'s default 192.168.0.0/16 overlaps most home LANs).', paths: [a.path, b.path] });
      }
    }
  }
  if (contains(pods, vip) || contains(services, vip)) {
    out.push({ id: 'cidr-overlap', severity: 'error', message: `The VIP ${vip} lies inside the ${contains(pods, vip) ? 'pod' : 'service'} network.`, paths: ['cluster.controlPlaneEndpoint.vip'] });
  }

  const metallb = c.addons.metallb;
  metallb?.pools.forEach((pool, p) => {
    pool.addresses.forEach((text, a) => {
      const range = parseRange(text)!;
      const path = `cluster.addons.metallb.pools[${p}].addresses[${a}]`;
      if (inRange(range, vip)) {
        out.push({ id: 'vip-in-metallb-pool', severity: 'error', message: `The VIP ${vip} is inside MetalLB pool "${pool.name}" (${text}): a Service could be given the API server's address.`,
          hint: 'Move the VIP or shrink the pool.', paths: ['cluster.controlPlaneEndpoint.vip', path] });
      }
      for (const { n, cidr } of statics) {
        if (inRange(range, cidr.address)) {
          out.push({ id: 'node-in-metallb-pool', severity: 'error', message: `${n.config.hostname}'s address ${cidr.address} is inside MetalLB pool "${pool.name}" (${text}).`,
            paths: [nodePath(n, 'address'), path] });
        }
      }
      for (const space of spaces.slice(0, 2)) {
        if (inRange(range, space.cidr.address) || contains(space.cidr, range.first) || contains(space.cidr, range.last)) {
          out.push({ id: 'cidr-overlap', severity: 'error', message: `MetalLB pool "${pool.name}" (${text}) overlaps the ${space.name}.`, paths: [path, space.path] });
        }
      }
    });
    if (pool.mode === 'bgp' && metallb.bgpPeers.length === 0) {
      out.push({ id: 'metallb-bgp-no-peer', severity: 'error', message: `MetalLB pool "${pool.name}" is announced by BGP but no bgpPeers are set.`,
        hint: 'Add the router to cluster.addons.metallb.bgpPeers.', paths: [`cluster.addons.metallb.pools[${p}].mode`] });
    }
  });
  return out;
};
