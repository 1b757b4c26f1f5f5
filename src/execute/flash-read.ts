/**
 * Everything `imgforge flash` reads before it plans: the image (its bmap, its GPT with the roles
 * its manifest gives, its boot code, root's file system size, and the node it is for) and the
 * target (what the host says about it and what it holds). No decisions here.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import type { Cluster } from '../config/resolve.ts';
import { imgforgeError } from '../errors/error.ts';
import { parseBmap } from '../image/bmap.ts';
import { decodeGpt } from '../image/gpt.ts';
import { decodeMbr, SECTOR_BYTES } from '../image/mbr.ts';
import type { FlashImage } from '../plan/flash.ts';
import type { ImagePartition, Role } from '../plan/image.ts';
import { readContents, type DriveContents } from '../drive/contents.ts';
import { identifyTarget, majMin, readHostFacts, type HostFacts, type Target } from '../drive/facts.ts';

interface Manifest {
  readonly cluster?: string; readonly node?: string;
  readonly layout?: { readonly partitions?: readonly { readonly name: string; readonly size: string }[] };
  readonly image?: { readonly partitions?: readonly { readonly number: number; readonly role: Role }[] };
}

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, offset);
  return buf.subarray(0, n);
}

/** ext2/3/4 superblock at byte 1024: s_blocks_count (lo at 4, hi at 0x150 with the 64bit feature) × 1024 << s_log_block_size (e2fsprogs ext2_fs.h). */
function ext4Sectors(sb: Buffer): number | null {
  if (sb.length < 1024 || sb.readUInt16LE(56) !== 0xef53) return null;
  const is64 = (sb.readUInt32LE(96) & 0x80) !== 0;
  const blocks = sb.readUInt32LE(4) + (is64 ? sb.readUInt32LE(0x150) * 2 ** 32 : 0);
  return (blocks * (1024 << sb.readUInt32LE(24))) / SECTOR_BYTES;
}

const manifestOf = (image: string): string => `${image.replace(/\.img$/, '')}.manifest.json`;

/**
 * Whether the image's manifest names the node it was built for, whose layout in the config gives
 * the final table. An unreadable manifest counts as naming one: readFlashImage reports it.
 */
export function namesNode(image: string): boolean {
  const file = manifestOf(image);
  try { return existsSync(file) && typeof (JSON.parse(readFileSync(file, 'utf8')) as Manifest).node === 'string'; } catch { return true; }
}

/** The image, its bmap and manifest beside it, and the node it is for in `cluster` (when the config has it). */
export function readFlashImage(path: string, cluster: Cluster | null): FlashImage {
  const sizeBytes = statSync(path).size;
  const bmapFile = `${path}.bmap`;
  if (!existsSync(bmapFile)) throw imgforgeError('FlashNoBmap', { image: path, detail: `there is no ${bmapFile}` });
  let bmap;
  try { bmap = parseBmap(readFileSync(bmapFile, 'utf8')); } catch (e) { throw imgforgeError('FlashNoBmap', { image: path, detail: `${bmapFile}: ${(e as Error).message}` }, { cause: e }); }
  const bad = !bmap.bmapFileChecksumValid ? 'its BmapFileChecksum is wrong' : bmap.imageSize !== sizeBytes ? `it is for an image of ${bmap.imageSize} bytes, the file has ${sizeBytes}`
    : bmap.checksumType !== 'sha256' ? `its checksums are ${bmap.checksumType}, not sha256` : bmap.ranges.some((r) => !r.sha256) ? 'a range has no checksum' : null;
  if (bad) throw imgforgeError('FlashNoBmap', { image: path, detail: `${bmapFile}: ${bad}` });
  const manifestFile = manifestOf(path);
  const manifest = existsSync(manifestFile) ? JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest : null;
  const roles = new Map((manifest?.image?.partitions ?? []).map((p) => [p.number, p.role]));
  const fd = openSync(path, 'r');
  try {
    const sector0 = readAt(fd, 0, SECTOR_BYTES);
    let table: FlashImage['table'] = null;
    let rootFsSectors: number | null = null;
    if (decodeMbr(sector0)?.protective) {
      let gpt;
      try { gpt = decodeGpt((o, l) => readAt(fd, o, l), sizeBytes - (sizeBytes % SECTOR_BYTES)); } catch (e) { throw imgforgeError('NotAnImage', { path, detail: `its GPT is unreadable: ${(e as Error).message}` }, { cause: e }); }
      const partitions: ImagePartition[] = gpt.partitions.map((p) => ({ ...p, role: roles.get(p.number) ?? 'other', source: null }));
      table = { diskGuid: gpt.diskGuid, partitions };
      const root = partitions.find((p) => p.role === 'root');
      if (root) rootFsSectors = ext4Sectors(readAt(fd, root.firstLba * SECTOR_BYTES + 1024, 1024));
    }
    const node = cluster?.nodes.find((n) => n.config.hostname === manifest?.node && cluster.config.cluster.name === manifest?.cluster);
    return {
      path, sizeBytes, blockSize: bmap.blockSize, ranges: bmap.ranges.map((r) => ({ first: r.first, last: r.last, sha256: r.sha256! })),
      table, bootCode: sector0.length === SECTOR_BYTES ? sector0.subarray(0, 440) : null, rootFsSectors,
      node: node ? {
        cluster: cluster!.config.cluster.name, hostname: node.config.hostname, layout: node.profile.layout, media: node.profile.disk.media,
        builtWith: (manifest?.layout?.partitions ?? []).map((p) => `${p.name} ${p.size}`),
      } : null,
    };
  } finally {
    closeSync(fd);
  }
}

export interface TargetFacts {
  readonly target: Target;
  readonly host: HostFacts | null;
  readonly contents: DriveContents;
  /** A file target's size now (0 when it does not exist yet). */
  readonly fileBytes: number;
}

/** The target as the host sees it (sysfs and proc under root) and what it holds. */
export async function readTarget(path: string, image: string, root = '/'): Promise<TargetFacts> {
  const target = identifyTarget(path, root);
  if (target.kind === 'file') {
    const fileBytes = target.exists ? statSync(path).size : 0;
    return { target, host: null, fileBytes, contents: target.exists ? await readContents(path, fileBytes) : { table: 'none', partitions: [], backupGptLba: null, signatures: [] } };
  }
  const host = readHostFacts(target.name!, { root, imageDev: majMin(statSync(image, { bigint: true }).dev) });
  return { target, host, fileBytes: 0, contents: await readContents(path, host.sizeBytes) };
}
