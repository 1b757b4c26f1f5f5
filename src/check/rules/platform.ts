import { nodePath, type Finding, type Rule } from '../finding.ts';
import { etcdMembers } from '../../config/topology.ts';

// Disk makers' units, as the sizes of drives and of the limits reported for them are given.
const gb = (bytes: number): string => `${Number((bytes / 1e9).toPrecision(3))} GB`;

/** Board vs base architecture, the disk sizes the boot chain sees, a boot loader the board needs on its disk, and the media the control plane and etcd sit on. */
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
  for (const n of cluster.nodes) {
    // The boot chain's own limit (a profile fact with its source): a larger disk may not be found at all.
    const limit = n.profile.base.facts.bootDiskLimit;
    if (limit && n.diskSize !== undefined && n.diskSize > limit.size) {
      out.push({ id: 'boot-disk-limit', severity: 'warning',
        message: `${n.config.hostname}'s disk (${gb(n.diskSize)}) is larger than ${gb(limit.size)}, the largest its boot chain (${n.profile.base.facts.bootedBy}) is known to see.`,
        hint: `If the board does not list the disk, update what boots it. Source: ${limit.source}`, paths: [nodePath(n, 'disk.size'), nodePath(n, 'board')] });
    }
  }
  for (const n of cluster.nodes) {
    // A board that reads its boot loader from the medium, on a base that does not carry one.
    const loader = n.profile.boot.mediumLoader;
    if (loader && !n.profile.boot.blobs.some((b) => b.offsetBytes === loader.offsetBytes)) {
      out.push({ id: 'boot-loader-missing', severity: 'warning',
        message: `${n.config.hostname}: board ${n.config.board} reads its boot loader from the disk at byte ${loader.offsetBytes}, and the image would carry none there; it would not start.`,
        hint: `Give ${loader.what} as a blob: overrides: { boot: { blobs: [{ file: '<the file>', offsetBytes: ${loader.offsetBytes} }] } }. Source: ${loader.source}`,
        paths: [nodePath(n, 'overrides.boot.blobs'), nodePath(n, 'board')] });
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
