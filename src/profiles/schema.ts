import { z } from 'zod';
import { Layout, LayoutPatch } from '../config/schema/layout.ts';
import { AbsolutePath, Bytes } from '../config/schema/primitives.ts';

export const Arch = z.enum(['amd64', 'arm64']);
/** A SHA-256 as 64 hex digits, either case (publishers print both); kept lower-case. */
const Sha256 = z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits').transform((s) => s.toLowerCase());
const Url = z.url({ protocol: /^(https?|file)$/ });

/** Where a partition of the base image is found: by filesystem label, GPT partition label or type GUID. */
const PartitionMatch = z.strictObject({
  /** Filesystem label (blkid LABEL), e.g. cloudimg-rootfs. */
  label: z.string().optional(),
  /** GPT partition name (PARTLABEL). */
  partlabel: z.string().optional(),
  /** GPT partition type GUID (UEFI spec 2.10 §5.3.3) or MBR type byte as "0x83". */
  type: z.string().regex(/^([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}|0x[0-9a-f]{2})$/, 'must be an upper-case GPT type GUID or an MBR type like 0x83').optional(),
  /** Filesystem the partition holds. */
  fs: z.enum(['ext4', 'ext2', 'vfat', 'none']),
});

/** A published image to download. */
const Download = z.strictObject({
  /** Image URL (https or file). */
  url: Url,
  /** Pinned SHA-256 of the downloaded file. */
  sha256: Sha256.optional(),
  /** URL of the publisher's SHA256SUMS (lines "<hash> *<name>"), used when no sha256 is pinned. */
  sha256sums: Url.optional(),
  /** Container and compression of the file as published. */
  format: z.enum(['raw', 'qcow2', 'raw.xz', 'raw.zst', 'raw.gz']),
  /** Why no checksum is published, when neither sha256 nor sha256sums can be given; builds then need a pinned hash or --allow-unverified. */
  unverifiedReason: z.string().optional(),
});

/** A base built from distribution packages with mmdebstrap. */
const Bootstrap = z.strictObject({
  /** Suite, e.g. bookworm or noble. */
  suite: z.string(),
  /** Package mirror URL. */
  mirror: Url,
  /** Packages beyond the minimal base: kernel, cloud-init, bootloader. */
  packages: z.array(z.string()).default([]),
  /**
   * Size of the root file system, when it should be larger than its contents need (they take
   * a quarter more, plus 256 MiB): e.g. "3.5GiB" for the size of Ubuntu's cloud image.
   */
  rootSize: Bytes.optional(),
  /**
   * Put only these kernel modules in the initramfs (initramfs-tools MODULES=list, initramfs.conf(5))
   * instead of most of the kernel's: the ones the root disk needs on the machines the base is for.
   * Unset: MODULES=most. A base of another architecture makes its initramfs under emulation,
   * where each module costs seconds.
   */
  initramfsModules: z.array(z.string().regex(/^[a-z0-9_-]+$/, 'must be a module name like virtio_blk')).optional(),
});

/** What a base runs, which decides the Kubernetes and CNI releases it can carry (imgforge profiles shows it). */
const Facts = z.strictObject({
  /** The kernel's MAJOR.MINOR, e.g. "6.8". */
  kernel: z.string().regex(/^\d+\.\d+$/, 'must be MAJOR.MINOR, e.g. 6.8'),
  /** The cgroup layout systemd mounts: "v2" (unified) or "v1" (legacy or hybrid, which the kubelet treats as v1). */
  cgroup: z.enum(['v1', 'v2']),
  /** cloud-init in the base: "enabled", "disabled" (installed but switched off; imgforge's quirks switch it on), or "absent". */
  cloudInit: z.enum(['enabled', 'disabled', 'absent']),
  /** What starts the base on the board, e.g. "GRUB from the image (UEFI or BIOS)". */
  bootedBy: z.string().min(1),
  /**
   * The largest boot disk what starts the base is known to see, when it has a limit (the
   * ODROID-M1's factory Petitboot: about 500 GB): check warns when a node's disk is larger.
   */
  bootDiskLimit: z.strictObject({
    /** The largest disk seen, e.g. "500GB". */
    size: Bytes.clone(), // its own JSON Schema node: a shared one would carry the first field's description
    /** What has the limit, where that is known from, and the way past it. */
    source: z.string().min(1),
  }).optional(),
  /** Where these facts come from. */
  source: z.string().min(1),
});

export const Base = z.strictObject({
  /** What the base runs: kernel, cgroup layout, cloud-init, boot chain, with their source. */
  facts: Facts,
  /** Download a published image; null in a profile that extends one with a download but bootstraps instead. */
  download: Download.nullable().optional(),
  /** Build the base from packages instead (mmdebstrap; root, or user namespaces for unshare mode). */
  bootstrap: Bootstrap.nullable().optional(),
  /** Operating system of the base. */
  os: z.strictObject({
    /** Distribution id as in /etc/os-release ID. */
    id: z.enum(['ubuntu', 'debian']),
    /** Release as in VERSION_ID, e.g. "24.04". */
    version: z.string(),
  }),
  /** Architecture of the base image's userland and kernel. */
  arch: Arch,
  /** Partition table of the base image. */
  table: z.enum(['gpt', 'mbr']),
  /** The base's partitions that imgforge needs to find, by role. Never found by number. */
  partitions: z.strictObject({
    /** The root filesystem. */
    root: PartitionMatch,
    /** A separate /boot, when the base has one (null: none, in a profile extending one that has). */
    boot: PartitionMatch.nullable().optional(),
    /** The EFI system partition, when the base boots by UEFI. */
    esp: PartitionMatch.nullable().optional(),
    /** The GRUB BIOS boot partition, when the base also boots legacy BIOS. */
    biosBoot: PartitionMatch.nullable().optional(),
  }),
  /** Edits the base needs before cloud-init can run it, applied without mounting. */
  quirks: z.strictObject({
    /** Files deleted from the root filesystem. */
    removeFiles: z.array(AbsolutePath).default([]),
    /** Why, for the plan and the reader. */
    notes: z.array(z.string()).default([]),
  }).prefault({}),
});

/** How the board starts. */
export const Boot = z.strictObject({
  /** Firmware that loads the OS: "uefi", "bios", or "u-boot" for SBCs. */
  firmware: z.array(z.enum(['uefi', 'bios', 'u-boot'])).min(1),
  /** Bootloader blobs written at raw byte offsets of the disk (not inside a partition). */
  blobs: z.array(z.strictObject({
    /** File path, relative to the config file (e.g. a u-boot-rockchip.bin you built or downloaded). */
    file: z.string(),
    /** Byte offset on the disk. */
    offsetBytes: z.number().int().nonnegative(),
  })).default([]),
  /**
   * Copy the base image's bytes between its partition table and its first partition: where boards
   * boot U-Boot from the medium (Rockchip's idbloader at sector 64) and BIOS GRUB may sit on an MBR
   * disk. They cost at most a MiB and may be the only boot loader a board has, so every board keeps
   * them; false writes zeros there instead. @default true
   */
  keepBootArea: z.boolean().default(true),
  /**
   * A boot loader the board reads from the boot medium itself and the base does not carry (Rockchip
   * boards without SPI firmware read U-Boot at 32 KiB): the node must give it as a blob at this
   * offset, and `check` warns while it does not.
   */
  mediumLoader: z.strictObject({
    /** Byte offset the board's boot ROM reads it from. */
    offsetBytes: z.number().int().positive(),
    /** What to give, and where to get it. */
    what: z.string().min(1),
    /** Where the offset and the loader come from. */
    source: z.string().min(1),
  }).optional(),
  /**
   * First sector a partition may start at (512-byte sectors); keeps the bootloader area free. The
   * base's partitions before root move up to it when they start lower (their bytes move with them;
   * UEFI and GRUB find them by GPT type and file system UUID, never by sector). @default 2048
   */
  firstSector: z.number().int().min(34).default(2048),
  /** Serial console as the kernel takes it, e.g. ttyS2,1500000n8. */
  console: z.string(),
  /** Device tree file, for boards that boot with one. */
  deviceTree: z.string().optional(),
  /** Extra kernel arguments. */
  kernelArgs: z.array(z.string()).default([]),
  /** What a user must know to boot this board, shown by `imgforge profiles`. */
  notes: z.array(z.string()).default([]),
});

/** The disk the image is written to, unless a node says otherwise. */
export const Disk = z.strictObject({
  /** Device path on the running node, e.g. /dev/sda or /dev/disk/by-id/... */
  device: AbsolutePath,
  /** Kind of medium; USB and SD media wear fast and are refused for etcd by a warning. */
  media: z.enum(['ssd', 'nvme', 'hdd', 'emmc', 'sd', 'usb']),
});

/** OS settings for the board's hardware. */
export const Tuning = z.strictObject({
  /** journald Storage=: "volatile" keeps logs in RAM (for USB/SD media). @default "persistent" */
  journal: z.enum(['persistent', 'volatile']).default('persistent'),
  /** journald size cap (SystemMaxUse= or RuntimeMaxUse=), e.g. 200M. */
  journalMaxUse: z.string().regex(/^\d+[KMG]$/, 'must be a size like 200M').default('200M'),
  /** Mount root with noatime to spare flash writes. @default false */
  noatime: z.boolean().default(false),
  /** Enable the weekly fstrim.timer. @default true */
  fstrim: z.boolean().default(true),
  /** Kernel modules loaded at boot on top of what Kubernetes needs. @default [] */
  modules: z.array(z.string().regex(/^[a-z0-9_-]+$/)).default([]),
  /** sysctls set on top of what Kubernetes needs. @default {} */
  sysctls: z.record(z.string().regex(/^[a-z0-9_.-]+$/), z.union([z.string(), z.number()])).default({}),
  /** Services the board image ships that must not run on a Kubernetes node (e.g. zram swap). @default [] */
  disableUnits: z.array(z.string()).default([]),
});

/** A board profile, as written in profiles/<name>.yaml. */
export const Profile = z.strictObject({
  /** JSON Schema reference for editors. */
  $schema: z.string().optional(),
  /** Profile name; equals the file name. */
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  /** Profile this one starts from: objects merge key by key, arrays and scalars replace. */
  extends: z.string().optional(),
  /** One line for `imgforge profiles`. */
  title: z.string(),
  /**
   * Another profile for the same board whose base runs current Kubernetes and CNI releases: `check`
   * names it when this profile's base cannot run the config's (an old vendor kernel, cgroup v1).
   */
  alternative: z.string().regex(/^[a-z0-9][a-z0-9-]*$/).optional(),
  /** CPU architecture of the board. */
  arch: Arch,
  /** The image the node's disk starts from. */
  base: Base.refine((b) => (b.download ? 1 : 0) + (b.bootstrap ? 1 : 0) === 1, {
    message: 'must give exactly one of download or bootstrap',
  }),
  /** Boot chain facts. */
  boot: Boot,
  /** Default target disk. */
  disk: Disk,
  /** Default disk layout. */
  layout: Layout.prefault({}),
  /** OS tuning. */
  tuning: Tuning.prefault({}),
});

/** What a node may change in its profile: any field of these sections. */
export const ProfilePatch = z.strictObject({
  /** Base image fields. */
  base: Base.partial().extend({
    /** Fields of the profile's download to change, e.g. only sha256 to pin the image's hash; null to bootstrap instead. */
    download: Download.partial().nullable().optional(),
    /** Facts to change when the base is another image (its kernel, cgroup layout, cloud-init, boot chain). */
    facts: Facts.partial().optional(),
  }).optional(),
  /** Boot chain fields. */
  boot: Boot.partial().optional(),
  /** Target disk fields. */
  disk: Disk.partial().optional(),
  /** Layout: root size and/or the reserved list. */
  layout: LayoutPatch.optional(),
  /** OS tuning fields. */
  tuning: Tuning.partial().optional(),
});

export type Profile = z.output<typeof Profile>;
export type ProfileInput = z.input<typeof Profile>;
export type Arch = z.output<typeof Arch>;
