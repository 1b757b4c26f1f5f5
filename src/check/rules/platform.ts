import { nodePath, type Finding, type Rule } from '../finding.ts';
import { etcdMembers } from '../../config/topology.ts';

/** Board vs base architecture, and the media the control plane and etcd sit on. */
export const platformRules: Rule = ({ cluster }) => {
  const out: Finding[] = [];
  for (const n of cluster.nodes) {
    const p = n.profile;
    if (p.arch !== p.base.arch) {
      out.push({ id: 'arch-mismatch', severity: 'error',
        message: `${n.config.hostname}: board ${n.config.board} is ${p.arch} but its base image is ${p.base.arch}; it would not boot.`,
        hint: `Use an ${p.arch} base image for this board.`, paths: [nodePath(n, 'board'), nodePath(n, 'overrides.base')] });
    }
  }
  const etcd = new Set(etcdMembers(cluster));
  for (const n of cluster.nodes) {
    const media = n.profile.disk.media;
    const heavy = n.config.role === 'control-plane' ? 'control plane' : etcd.has(n) ? 'etcd member' : undefined;
    if (heavy && (media === 'usb' || media === 'sd' || media === 'hdd')) {
      const what = media === 'hdd' ? 'a spinning disk: etcd fsyncs its WAL on every write, and a disk\'s seek times cause leader elections'
        : `${media === 'usb' ? 'USB' : 'SD'} storage: etcd fsyncs its WAL on every write, and slow or worn flash causes leader elections and wears out fast`;
      out.push({ id: 'etcd-on-slow-media', severity: 'warning',
        message: `${n.config.hostname} is ${heavy === 'etcd member' ? 'an' : 'a'} ${heavy} on ${what}.`,
        hint: 'Put control planes and etcd members on SSD, NVMe or eMMC.', paths: [nodePath(n, 'disk.media'), nodePath(n, 'board')] });
    }
  }
  return out;
};
