import { parseCidr } from '../../util/net.ts';
import { nodePath, type Finding, type Rule } from '../finding.ts';
import type { ResolvedNode } from '../../config/resolve.ts';

function duplicates(nodes: readonly ResolvedNode[], key: (n: ResolvedNode) => string | undefined): ResolvedNode[][] {
  const groups = new Map<string, ResolvedNode[]>();
  for (const n of nodes) {
    const k = key(n);
    if (k !== undefined) groups.set(k, [...(groups.get(k) ?? []), n]);
  }
  return [...groups.values()].filter((g) => g.length > 1);
}

/** kubeadm requires a unique hostname and MAC per node (install-kubeadm "Verify the MAC address and product_uuid"). */
export const identityRules: Rule = ({ cluster }) => {
  const out: Finding[] = [];
  const checks = [
    { id: 'duplicate-hostname', field: 'hostname', what: 'hostname', key: (n: ResolvedNode) => n.config.hostname },
    { id: 'duplicate-address', field: 'address', what: 'address', key: (n: ResolvedNode) => (n.config.address === 'dhcp' ? undefined : parseCidr(n.config.address)?.address) },
    { id: 'duplicate-mac', field: 'mac', what: 'MAC address', key: (n: ResolvedNode) => n.config.mac },
    // `imgforge serve` finds a node by these: two nodes with one would get each other's seed.
    { id: 'duplicate-serial', field: 'serial', what: 'SMBIOS serial number', key: (n: ResolvedNode) => n.config.serial },
    { id: 'duplicate-uuid', field: 'uuid', what: 'SMBIOS UUID', key: (n: ResolvedNode) => n.config.uuid },
  ];
  for (const c of checks) {
    for (const group of duplicates(cluster.nodes, c.key)) {
      out.push({
        id: c.id,
        severity: 'error',
        message: `${group.map((n) => `nodes[${n.index}]`).join(' and ')} share the ${c.what} ${c.key(group[0]!)}.`,
        hint: `Every node needs its own ${c.what}.`,
        paths: group.map((n) => nodePath(n, c.field)),
      });
    }
  }
  return out;
};
