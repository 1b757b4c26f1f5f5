import { planLayout } from '../../plan/layout.ts';
import { count, nodePath, type Finding, type Rule } from '../finding.ts';

/** Disk layouts, and the partitions Rook-Ceph and Longhorn are told to use. */
export const storageRules: Rule = ({ cluster }) => {
  const out: Finding[] = [];
  for (const n of cluster.nodes) {
    const where = n.config.layout ? 'layout' : n.config.overrides?.layout ? 'overrides.layout' : 'board';
    for (const problem of planLayout(n.profile.layout, n.diskSize ?? null).problems) {
      out.push({ id: 'layout-invalid', severity: 'error', message: `${n.config.hostname}: ${problem}.`, paths: [nodePath(n, where)] });
    }
  }
  const { rookCeph, longhorn } = cluster.config.cluster.addons;
  if (rookCeph) {
    const withPartition = cluster.nodes.filter((n) => n.profile.layout.reserved.some((r) => r.name === rookCeph.partition));
    const wrong = withPartition.filter((n) => n.profile.layout.reserved.some((r) => r.name === rookCeph.partition && r.format !== 'raw'));
    for (const n of wrong) {
      out.push({ id: 'rook-partition', severity: 'error', message: `${n.config.hostname}: "${rookCeph.partition}" is formatted; Rook skips any partition with a filesystem signature.`,
        hint: 'Set format: "raw" on the Ceph partition.', paths: [nodePath(n, 'layout')] });
    }
    if (withPartition.length === 0) {
      out.push({ id: 'rook-partition', severity: 'error', message: `Rook-Ceph is enabled but no node reserves a partition named "${rookCeph.partition}".`,
        hint: `Add { name: "${rookCeph.partition}", size: "rest", format: "raw" } to the layout of the storage nodes.`, paths: ['cluster.addons.rookCeph.partition'] });
    }
    const usable = withPartition.length - wrong.length;
    if (withPartition.length > 0 && usable < rookCeph.replicas) {
      out.push({ id: 'rook-replicas', severity: 'error', message: `Rook-Ceph keeps ${rookCeph.replicas} replicas on different hosts, ${usable === 0 ? 'but no node reserves' : `but only ${count(usable, 'node')} ${usable === 1 ? 'reserves' : 'reserve'}`} a raw OSD partition.`,
        paths: ['cluster.addons.rookCeph.replicas'] });
    }
    if (cluster.nodes.length < 3) {
      out.push({ id: 'rook-mon-quorum', severity: 'warning', message: `Ceph monitors need three hosts to survive one failure; the cluster has ${count(cluster.nodes.length, 'node')}.`,
        paths: ['cluster.addons.rookCeph'] });
    }
  }
  if (longhorn && !cluster.nodes.some((n) => n.profile.layout.reserved.some((r) => r.name === longhorn.partition))) {
    out.push({ id: 'longhorn-partition', severity: 'warning', message: `Longhorn is enabled but no node reserves a partition named "${longhorn.partition}": replicas will live on the root file system.`,
      hint: `Add { name: "${longhorn.partition}", size: "rest", format: "ext4", mountpoint: "/var/lib/longhorn" } to the layout of the storage nodes.`, paths: ['cluster.addons.longhorn.partition'] });
  }
  if (longhorn) {
    for (const n of cluster.nodes) {
      const part = n.profile.layout.reserved.find((r) => r.name === longhorn.partition);
      if (part && part.format !== 'ext4') {
        out.push({ id: 'longhorn-partition', severity: 'error', message: `${n.config.hostname}: Longhorn stores replicas as files and needs an ext4 (or XFS) filesystem on "${longhorn.partition}".`,
          hint: 'Set format: "ext4" and a mountpoint such as /var/lib/longhorn.', paths: [nodePath(n, 'layout')] });
      }
    }
  }
  return out;
};
