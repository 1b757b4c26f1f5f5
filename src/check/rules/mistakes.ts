import ipaddr from 'ipaddr.js';
import { contains, inRange, parseCidr, parseIp, parseRange, type Cidr } from '../../util/net.ts';
import { count, nodePath, type Finding, type Rule } from '../finding.ts';

/** Folders the operating system owns: a data partition mounted there hides or replaces them. */
const SYSTEM_PATHS = ['/', '/boot', '/boot/efi', '/usr', '/etc', '/var', '/var/lib', '/bin', '/sbin', '/lib', '/lib64', '/root', '/run', '/proc', '/sys', '/dev'];

/** The size of an IPv4 network, as a power of two. */
const bits = (c: Cidr): number => (c.family === 'ipv4' ? 32 : 128) - c.prefix;

/** Mistakes our users make that break a real cluster, each caught before an image is written. */
export const mistakeRules: Rule = ({ cluster }) => {
  const out: Finding[] = [];
  const c = cluster.config.cluster;
  const net = cluster.config.network;
  for (const n of cluster.nodes) {
    const seen = new Map<string, string>();
    n.profile.layout.reserved.forEach((r) => {
      if (!r.mountpoint) return;
      const path = r.mountpoint.replace(/\/+$/, '') || '/';
      if (SYSTEM_PATHS.includes(path)) {
        out.push({ id: 'mountpoint-system', severity: 'error', message: `${n.config.hostname}: partition "${r.name}" would be mounted on ${path}, which the system itself uses.`,
          hint: 'Mount data partitions on a folder of their own, e.g. /var/lib/longhorn or /srv/data.', paths: [nodePath(n, 'layout.reserved')] });
      }
      const other = seen.get(path);
      if (other) {
        out.push({ id: 'mountpoint-duplicate', severity: 'error', message: `${n.config.hostname}: partitions "${other}" and "${r.name}" are both mounted on ${path}; the second hides the first.`,
          hint: 'Give each partition its own mountpoint.', paths: [nodePath(n, 'layout.reserved')] });
      }
      seen.set(path, r.name);
    });
    // IPv4: the first and last address of a subnet are its network and broadcast addresses.
    const a = n.config.address === 'dhcp' ? undefined : parseCidr(n.config.address);
    if (a && a.family === 'ipv4' && a.prefix <= 30) {
      const special = [ipaddr.IPv4.networkAddressFromCIDR(n.config.address).toString(), ipaddr.IPv4.broadcastAddressFromCIDR(n.config.address).toString()];
      const i = special.indexOf(a.address);
      if (i >= 0) {
        out.push({ id: 'address-reserved', severity: 'error', message: `${n.config.hostname}'s address ${a.address} is the ${i === 0 ? 'network' : 'broadcast'} address of ${special[0]}/${a.prefix}; no host can use it.`,
          hint: 'Pick an address between them.', paths: [nodePath(n, 'address')] });
      }
    }
  }
  const vip = c.controlPlaneEndpoint.vip;
  const lan = cluster.nodes.map((n) => (n.config.address === 'dhcp' ? undefined : n.config.address))
    .find((t) => t !== undefined && parseCidr(t)!.family === 'ipv4' && parseCidr(t)!.prefix <= 30 && contains(parseCidr(t)!, vip));
  if (lan) {
    const special = [ipaddr.IPv4.networkAddressFromCIDR(lan).toString(), ipaddr.IPv4.broadcastAddressFromCIDR(lan).toString()];
    if (special.includes(vip)) {
      out.push({ id: 'address-reserved', severity: 'error', message: `The VIP ${vip} is the ${special.indexOf(vip) === 0 ? 'network' : 'broadcast'} address of ${special[0]}/${parseCidr(lan)!.prefix}; no host can hold it.`,
        hint: 'Pick a free address between them.', paths: ['cluster.controlPlaneEndpoint.vip'] });
    }
  }
  // Each node gets a /24 of the pod network (kube-controller-manager's --node-cidr-mask-size and
  // Cilium's cluster-pool default); kubeadm gives the API the service network's first address and
  // CoreDNS its tenth (kubeadm constants: DNS at .10).
  const pods = parseCidr(c.podCidr);
  const k8sNodes = cluster.nodes.filter((n) => n.config.role !== 'etcd').length;
  if (pods && pods.family === 'ipv4' && (pods.prefix > 24 || 2 ** (24 - pods.prefix) < k8sNodes)) {
    out.push({ id: 'pod-cidr-small', severity: 'error',
      message: `The pod network ${c.podCidr} holds ${pods.prefix > 24 ? 'no' : 2 ** (24 - pods.prefix)} /24 per-node range${pods.prefix === 24 ? '' : 's'}; the cluster has ${count(k8sNodes, 'node')}.`,
      hint: 'Use a /16 (the default, 10.244.0.0/16) or anything that holds a /24 per node.', paths: ['cluster.podCidr'] });
  }
  const services = parseCidr(c.serviceCidr);
  if (services && bits(services) < 4) {
    out.push({ id: 'service-cidr-small', severity: 'error', message: `The service network ${c.serviceCidr} is too small: kubeadm gives the API its first address and CoreDNS its tenth.`,
      hint: 'Use a /12 (the default, 10.96.0.0/12) or at least a /24.', paths: ['cluster.serviceCidr'] });
  }
  const metallb = c.addons.metallb;
  if (metallb) {
    const nfs = c.addons.nfsProvisioner?.server;
    // Each address once, with the first thing it is (the gateway is often the DNS server too).
    const taken = [...new Map<string, [string, string, string]>([
      ...(nfs && parseIp(nfs) ? [[nfs, [nfs, `the NFS server ${nfs}`, 'cluster.addons.nfsProvisioner.server']] as [string, [string, string, string]]] : []),
      ...net.dns.map((d, i) => [d, [d, `DNS server ${d}`, `network.dns[${i}]`]] as [string, [string, string, string]]).reverse(),
      ...(net.gateway ? [[net.gateway, [net.gateway, `the gateway ${net.gateway}`, 'network.gateway']] as [string, [string, string, string]]] : []),
    ]).values()];
    const names = new Set<string>();
    metallb.pools.forEach((pool, p) => {
      if (names.has(pool.name)) {
        out.push({ id: 'metallb-pool-duplicate', severity: 'error', message: `Two MetalLB pools are named "${pool.name}"; Kubernetes keeps one object per name.`,
          hint: 'Give each pool its own name.', paths: [`cluster.addons.metallb.pools[${p}].name`] });
      }
      names.add(pool.name);
      const ranges = pool.addresses.map((t) => parseRange(t)).filter((r) => r !== undefined);
      for (const [ip, what, path] of taken) {
        if (ranges.some((r) => inRange(r, ip))) {
          out.push({ id: 'metallb-pool-taken', severity: 'error', message: `MetalLB pool "${pool.name}" holds ${what}: a Service given it would take that address from the machine that has it.`,
            hint: 'Leave the address out of the pool.', paths: [`cluster.addons.metallb.pools[${p}].addresses`, path] });
        }
      }
      const subnets = cluster.nodes.flatMap((n) => (n.config.address === 'dhcp' ? [] : [parseCidr(n.config.address)!]));
      if (pool.mode === 'l2' && subnets.length > 0 && ranges.some((r) => !subnets.some((s) => contains(s, r.first) && contains(s, r.last)))) {
        out.push({ id: 'metallb-l2-subnet', severity: 'error', message: `MetalLB pool "${pool.name}" is announced by ARP (l2) but lies outside every node's subnet: nothing on the LAN would reach it.`,
          hint: 'Use addresses of the nodes\' LAN, or mode "bgp" with bgpPeers.', paths: [`cluster.addons.metallb.pools[${p}].addresses`] });
      }
    });
  }
  const longhorn = c.addons.longhorn;
  if (longhorn) {
    const holders = cluster.nodes.filter((n) => n.config.role !== 'etcd' && n.profile.layout.reserved.some((r) => r.name === longhorn.partition));
    if (holders.length > 0 && longhorn.replicas > holders.length) {
      out.push({ id: 'longhorn-replicas', severity: 'error', message: `Longhorn keeps ${longhorn.replicas} replicas on different nodes, but only ${count(holders.length, 'node')} reserve${holders.length === 1 ? 's' : ''} "${longhorn.partition}".`,
        hint: `Lower cluster.addons.longhorn.replicas to ${holders.length} or reserve the partition on more nodes.`, paths: ['cluster.addons.longhorn.replicas'] });
    }
  }
  const workers = cluster.nodes.filter((n) => n.config.role === 'worker');
  if (workers.length === 0 && !c.schedulableControlPlanes && cluster.nodes.some((n) => n.config.role === 'control-plane')) {
    out.push({ id: 'no-schedulable-node', severity: 'warning', message: 'No node can run your pods: there are no workers and the control planes keep their NoSchedule taint (only system pods that tolerate it run).',
      hint: 'Add a worker, or set cluster.schedulableControlPlanes: true.', paths: ['cluster.schedulableControlPlanes', 'nodes'] });
  }
  const users = new Set<string>();
  cluster.config.users.forEach((u, i) => {
    if (u.name === 'root') {
      out.push({ id: 'user-root', severity: 'error', message: 'A user named root: cloud-init would replace root\'s own account and SSH keys.',
        hint: 'Name a login user of your own; it gets sudo.', paths: [`users[${i}].name`] });
    }
    if (users.has(u.name)) {
      out.push({ id: 'duplicate-user', severity: 'error', message: `Two users are named ${u.name}; cloud-init would keep only one of them.`,
        hint: 'Merge their keys into one entry.', paths: [`users[${i}].name`] });
    }
    users.add(u.name);
  });
  return out;
};
