/**
 * Whether a drive may be flashed: the refusals and warnings of `imgforge flash`, judged from the
 * facts alone (after coreos-installer's busy-disk check, rpi-imager's system drive,
 * Etcher's source drive and size checks, bmaptool's exclusive open). Pure.
 */
import type { DriveContents } from '../drive/contents.ts';
import type { HostFacts, Target } from '../drive/facts.ts';
import { formatBytes } from '../util/size.ts';

export interface Refusal {
  /** A short stable name: partition, read-only, system, source, mounted, swap, holders, sector-size, small, data, stale, layout, confirm. */
  readonly rule: string;
  readonly message: string;
  /** No flag or action of the user's makes imgforge write this drive (exit 3); otherwise exit 2. */
  readonly never: boolean;
}

/** Mount points whose loss takes the running system down (the system-drive test of coreos-installer and rpi-imager). */
const SYSTEM_MOUNTS: readonly string[] = ['/', '/boot', '/boot/efi', '/boot/firmware', '/usr', '/var', '/home'];

/** Media a profile names that are normally removable (sysfs removable=1). */
const REMOVABLE_MEDIA = new Set(['sd', 'usb']);

export interface SafetyInput {
  readonly target: Target;
  readonly host: HostFacts | null;
  readonly contents: DriveContents;
  readonly sizeBytes: number;
  readonly neededBytes: number;
  readonly media: string | null;
  readonly wipe: boolean;
  /** --yes given, or the user can be asked (stdin is a terminal). */
  readonly yes: boolean;
  readonly canAsk: boolean;
}

/** Everything wrong with writing this drive, and what is only worth a warning. */
export function judgeTarget(s: SafetyInput): { refusals: Refusal[]; warnings: string[] } {
  const refusals: Refusal[] = [];
  const warnings: string[] = [];
  const drive = s.target.path;
  const refuse = (rule: string, message: string, never = false): void => { refusals.push({ rule, message, never }); };
  const h = s.host;
  if (h) {
    if (h.partitionOf) refuse('partition', `${drive} is a partition of ${h.partitionOf}; flash writes whole drives (/dev/${h.partitionOf})`);
    if (h.readOnly) refuse('read-only', `${drive} is read-only (sysfs ro=1; a write-protect switch?)`);
    const system = h.mounts.filter((m) => SYSTEM_MOUNTS.includes(m.mountpoint));
    if (system.length > 0 || h.swaps.length > 0) {
      const what = [...system.map((m) => `${m.mountpoint} on ${m.on}`), ...h.swaps.map((w) => `swap on ${w.on}`)];
      refuse('system', `${drive} holds the running system (${what.join(', ')})`, true);
    }
    if (h.holdsImage) refuse('source', `${drive} holds the image being flashed`, true);
    const others = h.mounts.filter((m) => !SYSTEM_MOUNTS.includes(m.mountpoint));
    if (others.length > 0) refuse('mounted', `${drive} is mounted: ${others.map((m) => `${m.on} at ${m.mountpoint}`).join(', ')}; unmount it first`);
    if (h.holders.length > 0) {
      refuse('holders', `${drive} is in use by ${h.holders.map((x) => `${x.name} (on ${x.on})`).join(', ')}: LVM, mdraid or device-mapper; stop them first (vgchange -an, mdadm --stop, dmsetup remove)`);
    }
    // The images carry a GPT for 512-byte sectors (src/image/gpt.ts); a 4Kn drive reads it at the wrong place.
    if (h.logicalSectorBytes !== 512) refuse('sector-size', `${drive} has ${h.logicalSectorBytes}-byte logical sectors; imgforge images are laid out for 512-byte sectors`, true);
    if (s.media !== null && h.removable !== null) {
      const expects = REMOVABLE_MEDIA.has(s.media);
      if (expects !== h.removable) warnings.push(`the node's profile expects ${s.media} (${expects ? 'removable' : 'fixed'}), but ${drive} is ${h.removable ? 'removable' : 'fixed'}`);
    }
  }
  if (s.target.kind === 'block' && s.sizeBytes < s.neededBytes) {
    refuse('small', `${drive} holds ${formatBytes(s.sizeBytes)} (${s.sizeBytes} bytes); the image needs ${formatBytes(s.neededBytes)} (${s.neededBytes} bytes)`);
  }
  // Any signature libblkid knows is someone's data: a file system, an LVM, Ceph, ZFS or mdraid
  // member, a LUKS volume. A partition table whose partitions carry none is not.
  const data = s.contents.signatures;
  if (data.length > 0 && !s.wipe) {
    refuse('data', `${drive} holds data: ${data.map((g) => `${g.type}${g.label ? ` "${g.label}"` : ''} on ${g.where}`).join(', ')}; pass --wipe to overwrite it`);
  }
  if (s.target.kind === 'block' && !s.yes && !s.canAsk) refuse('confirm', `writing ${drive} needs --yes when stdin is not a terminal`);
  return { refusals, warnings };
}
