import { z } from 'zod';
import { LayoutPatch } from './layout.ts';
import { AbsolutePath, Bytes, Hostname, Labels, Mac } from './primitives.ts';
import { parseCidr } from '../../util/net.ts';
import { ProfilePatch } from '../../profiles/schema.ts';

/** A Kubernetes taint (core/v1 Taint). */
const Taint = z.strictObject({
  /** Taint key. */
  key: z.string().min(1),
  /** Taint value. */
  value: z.string().optional(),
  /** Effect on pods that do not tolerate it. */
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']),
});

/**
 * An SMBIOS serial number as `dmidecode -s system-serial-number` prints it: printable ASCII
 * without "/", "?", "#" or "\\", which a URL path segment (`imgforge serve`'s /by-serial/<serial>/)
 * could not carry, and without leading or trailing blanks.
 */
const SmbiosSerial = z.string().max(64).regex(/^[!-~]([ -~]*[!-~])?$/, 'must be printable ASCII without leading or trailing spaces')
  .refine((s) => !/[/?#\\]/.test(s), { message: 'must not contain "/", "?", "#" or "\\" (it is matched as one URL path segment)' });

/** An SMBIOS product UUID (/sys/class/dmi/id/product_uuid), compared in lowercase. */
const SmbiosUuid = z.string().regex(/^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/, 'must be a UUID like 4c4c4544-0042-3510-8052-b4c04f4e3232')
  .transform((s) => s.toLowerCase());

/** One machine of the cluster. */
export const Node = z.strictObject({
  /** Hostname and Kubernetes node name. */
  hostname: Hostname,
  /** Board profile name (profiles/<board>.yaml), e.g. odroid-m1. */
  board: z.string().min(1),
  /** "control-plane", "worker", or "etcd" (a dedicated member of an external etcd). */
  role: z.enum(['control-plane', 'worker', 'etcd']),
  /** On a worker: also run an etcd member, so two control planes keep quorum through one failure. @default false */
  etcd: z.boolean().default(false),
  /** Static address with prefix (192.168.1.11/24), or "dhcp". @default "dhcp" */
  address: z.string().refine((s) => s === 'dhcp' || parseCidr(s) !== undefined, { message: 'must be "dhcp" or an address with its prefix length, e.g. 192.168.1.11/24' }).default('dhcp'),
  /** MAC of the LAN interface; matches the interface in network-config. */
  mac: Mac.optional(),
  /**
   * SMBIOS system serial number (`dmidecode -s system-serial-number`): `imgforge serve` hands this
   * node its seed at /by-serial/<serial>/, the URL cloud-init >= 23.1 makes of
   * `__dmi.system-serial-number__`. Public, like the MAC: it never unlocks the node's secrets.
   */
  serial: SmbiosSerial.optional(),
  /**
   * SMBIOS product UUID (`dmidecode -s system-uuid`): `imgforge serve` hands this node its seed at
   * /by-uuid/<uuid>/ (cloud-init's `__dmi.system-uuid__`, iPXE's `${uuid}`). Public, like the MAC.
   */
  uuid: SmbiosUuid.optional(),
  /** Target disk, when it differs from the board's default. */
  disk: z.strictObject({
    /** Device path on the running node (/dev/sda, /dev/nvme0n1, /dev/disk/by-id/...). */
    device: AbsolutePath.optional(),
    /** Disk size when known ("1TB"); lets the build write the final partition table. */
    size: Bytes.optional(),
    /** Kind of medium. */
    media: z.enum(['ssd', 'nvme', 'hdd', 'emmc', 'sd', 'usb']).optional(),
  }).optional(),
  /** Layout changes for this node's disk. */
  layout: LayoutPatch.optional(),
  /** Node labels. @default {} */
  labels: Labels.default({}),
  /** Node taints. @default [] */
  taints: z.array(Taint).default([]),
  /** Per-node changes to anything the board profile sets. */
  overrides: ProfilePatch.optional(),
});


