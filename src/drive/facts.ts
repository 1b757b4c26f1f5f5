/**
 * What the host knows about a flash target, read from sysfs and proc under a root folder (/ on
 * a real host, a fake tree in tests): size, sector size, removable, model and serial, the kernel's
 * partitions, what is stacked on them (holders: dm, md, bcache), and which of them are mounted or
 * swapped on. Read only; the flash planner judges it.
 */
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { imgforgeError } from '../errors/error.ts';
import { parseMountinfo, parseSwaps, type Mount } from './mounts.ts';

export interface Target {
  /** As the user gave it. */
  readonly path: string;
  readonly kind: 'file' | 'block';
  /** The kernel's name (sdb, nvme0n1, loop3); null for a file. */
  readonly name: string | null;
  /** Whether a file target exists yet (flash creates it at the image's size). */
  readonly exists: boolean;
}

export interface HostFacts {
  readonly sizeBytes: number;
  readonly logicalSectorBytes: number;
  /** sysfs removable: 1 for SD readers and most USB sticks; not a safety signal by itself. Null for files. */
  readonly removable: boolean | null;
  readonly readOnly: boolean;
  /** The whole disk's name when the target is one of its partitions. */
  readonly partitionOf: string | null;
  readonly model: string | null;
  readonly serial: string | null;
  /** The drive's partitions as the kernel knows them. */
  readonly partitions: readonly string[];
  /** Devices stacked on the drive or its partitions (dm-0 on sdb2), recursively. */
  readonly holders: readonly { readonly name: string; readonly on: string }[];
  /** Mounts of the drive, its partitions or its holders; `on` names which. */
  readonly mounts: readonly (Mount & { readonly on: string })[];
  readonly swaps: readonly { readonly file: string; readonly on: string }[];
  /** The image to flash lives on this drive (Etcher's isSourceDrive). */
  readonly holdsImage: boolean;
}

const read = (file: string): string | null => {
  try { return readFileSync(file, 'utf8').trim(); } catch { return null; }
};
const list = (dir: string): string[] => {
  try { return readdirSync(dir); } catch { return []; }
};

/** The kernel's major:minor of a dev_t (glibc's gnu_dev_major/gnu_dev_minor). */
export function majMin(dev: bigint): string {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** What the path names: a block device (its kernel name from /sys/dev/block), or a regular file (existing or to be made). */
export function identifyTarget(path: string, root = '/'): Target {
  let st;
  try {
    st = statSync(path, { bigint: true });
  } catch {
    // bmaptool#55: a typo under /dev must not become a file there.
    if (path.startsWith('/dev/')) throw imgforgeError('FlashBadTarget', { target: path, detail: 'there is no such device' });
    return { path, kind: 'file', name: null, exists: false };
  }
  if (st.isFile()) return { path, kind: 'file', name: null, exists: true };
  if (!st.isBlockDevice()) throw imgforgeError('FlashBadTarget', { target: path, detail: 'it is neither a block device nor a regular file' });
  const link = (() => { try { return readlinkSync(join(root, 'sys/dev/block', majMin(st.rdev))); } catch { return null; } })();
  if (!link) throw imgforgeError('FlashBadTarget', { target: path, detail: `sysfs has no block device ${majMin(st.rdev)}` });
  return { path, kind: 'block', name: basename(link), exists: true };
}

/** Sysfs and proc facts about a block device target, read under root. */
export function readHostFacts(name: string, opts: { readonly root?: string; readonly imageDev?: string | null } = {}): HostFacts {
  const root = opts.root ?? '/';
  const dir = (n: string): string => join(root, 'sys/class/block', n);
  if (read(join(dir(name), 'size')) === null) throw imgforgeError('FlashBadTarget', { target: name, detail: `${join(dir(name), 'size')} cannot be read` });
  const partitionOf = read(join(dir(name), 'partition')) === null ? null : basename(join(readlinkSync(dir(name)), '..'));
  const partitions = list(dir(name)).filter((p) => p.startsWith(name) && read(join(dir(name), p, 'partition')) !== null);
  const holders: { name: string; on: string }[] = [];
  const walk = (n: string): void => {
    for (const h of list(join(dir(n), 'holders'))) {
      if (holders.some((x) => x.name === h && x.on === n)) continue;
      holders.push({ name: h, on: n });
      walk(h);
    }
  };
  for (const n of [name, ...partitions]) walk(n);
  const devs = new Map<string, string>();
  for (const n of [name, ...partitions, ...holders.map((h) => h.name)]) {
    const d = read(join(dir(n), 'dev'));
    if (d) devs.set(d, n);
  }
  // Device-mapper sources appear as /dev/mapper/<dm/name>; btrfs and friends only by source.
  const bySource = new Map<string, string>();
  for (const n of devs.values()) {
    bySource.set(`/dev/${n}`, n);
    const dm = read(join(dir(n), 'dm/name'));
    if (dm) bySource.set(`/dev/mapper/${dm}`, n);
  }
  const on = (majMin: string, source: string): string | undefined => devs.get(majMin) ?? bySource.get(source);
  const mounts = parseMountinfo(read(join(root, 'proc/self/mountinfo')) ?? '')
    .flatMap((m) => { const n = on(m.majMin, m.source); return n ? [{ ...m, on: n }] : []; });
  const swaps = parseSwaps(read(join(root, 'proc/swaps')) ?? '')
    .flatMap((file) => { const n = bySource.get(file); return n ? [{ file, on: n }] : []; });
  // sysfs "size" counts 512-byte sectors whatever the device's sector size (block/genhd.c).
  const sizeBytes = Number(read(join(dir(name), 'size'))) * 512;
  const attr = (p: string): string | null => read(join(dir(name), p)) || null;
  return {
    sizeBytes,
    logicalSectorBytes: Number(read(join(dir(name), 'queue/logical_block_size')) ?? 512),
    removable: read(join(dir(name), 'removable')) === '1',
    readOnly: read(join(dir(name), 'ro')) === '1',
    partitionOf, model: attr('device/model'), serial: attr('device/serial') ?? attr('serial'),
    partitions, holders, mounts, swaps,
    holdsImage: opts.imageDev !== undefined && opts.imageDev !== null && devs.has(opts.imageDev),
  };
}

/** The partitions the kernel has for a drive now: number, first sector and length (sysfs partition, start, size). */
export function kernelPartitions(name: string, root = '/'): { number: number; start: number; sectors: number }[] {
  const dir = join(root, 'sys/class/block', name);
  return list(dir).flatMap((p) => {
    const number = read(join(dir, p, 'partition'));
    return number === null ? [] : [{ number: Number(number), start: Number(read(join(dir, p, 'start'))), sectors: Number(read(join(dir, p, 'size'))) }];
  }).sort((a, b) => a.number - b.number);
}
