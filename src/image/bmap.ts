/**
 * bmaptool block maps, format version 2.0 (bmaptool's BmapCreate/BmapCopy; boards-images.md §5.5):
 * which blocks of a sparse image hold data, each range with its SHA-256, so `bmaptool copy` writes
 * only those blocks to the target disk and verifies them as it goes.
 */
import { createHash } from 'node:crypto';
import { formatBytes } from '../util/size.ts';

export const BMAP_VERSION = '2.0';
/** The block size bmaptool create records on ext4 and most filesystems (the FIGETBSZ ioctl). */
export const BMAP_BLOCK_BYTES = 4096;
const SHA256_HEX_CHARS = 64;
/** BmapFileChecksum is computed over the file with its own value set to this (BmapCreate._bmap_file_end). */
const CHECKSUM_PLACEHOLDER = '0'.repeat(SHA256_HEX_CHARS);
const SHA256_HEX = /^[0-9a-f]{64}$/i;

export interface BmapRange {
  /** First block, inclusive. */
  readonly first: number;
  /** Last block, inclusive. */
  readonly last: number;
  /** SHA-256 (hex) of the range's bytes; for a range ending in a partial last block, up to the image's end. */
  readonly sha256: string;
}

export interface Bmap {
  readonly imageSize: number;
  readonly blockSize: number;
  /** Mapped block ranges in ascending order, not overlapping. */
  readonly ranges: readonly BmapRange[];
}

export interface ParsedBmap {
  readonly version: string;
  readonly imageSize: number;
  readonly blockSize: number;
  readonly blocksCount: number;
  readonly mappedBlocksCount: number;
  readonly checksumType: string;
  readonly bmapFileChecksum: string;
  /** Whether BmapFileChecksum matches the text, checked the way BmapCopy._verify_bmap_checksum does. */
  readonly bmapFileChecksumValid: boolean;
  readonly ranges: readonly { readonly first: number; readonly last: number; readonly sha256: string | undefined }[];
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** bmaptool rejects a file whose BlocksCount is not ceil(ImageSize / BlockSize). */
export const bmapBlocksCount = (imageSize: number, blockSize: number): number => Math.ceil(imageSize / blockSize);

function validate(bmap: Bmap, blocksCount: number): void {
  if (!Number.isSafeInteger(bmap.imageSize) || bmap.imageSize <= 0) throw new Error(`bmap image size ${bmap.imageSize} must be a positive whole number of bytes`);
  if (!Number.isSafeInteger(bmap.blockSize) || bmap.blockSize <= 0) throw new Error(`bmap block size ${bmap.blockSize} must be a positive whole number of bytes`);
  let next = 0;
  for (const r of bmap.ranges) {
    const name = `bmap range ${r.first}-${r.last}`;
    if (!Number.isSafeInteger(r.first) || !Number.isSafeInteger(r.last) || r.first > r.last) throw new Error(`${name}: first and last must be whole block numbers, first <= last`);
    if (r.first < next) throw new Error(`${name} is out of order or overlaps the range before it`);
    if (r.last >= blocksCount) throw new Error(`${name} goes past the image's last block ${blocksCount - 1}`);
    if (!SHA256_HEX.test(r.sha256)) throw new Error(`${name}: "${r.sha256}" is not a SHA-256 hex digest`);
    next = r.last + 1;
  }
}

/** The bmap file's text, laid out as bmaptool create writes it. Throws a plain Error on bad input. */
export function renderBmap(bmap: Bmap): string {
  const blocksCount = bmapBlocksCount(bmap.imageSize, bmap.blockSize);
  validate(bmap, blocksCount);
  const mapped = bmap.ranges.reduce((n, r) => n + r.last - r.first + 1, 0);
  const percent = ((mapped * 100) / blocksCount).toFixed(1);
  // BmapCopy compares against hashlib's hexdigest(), which is lower case.
  const ranges = bmap.ranges.map((r) => {
    const blocks = r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`;
    return `        <Range chksum="${r.sha256.toLowerCase()}"> ${blocks} </Range>\n`;
  });
  const head = [
    '<?xml version="1.0" ?>',
    '<!-- Block map of a disk image, written by imgforge: the mapped blocks hold data and must be',
    '     written to the target device; bmaptool copy skips the others. -->',
    '',
    `<bmap version="${BMAP_VERSION}">`,
    `    <!-- Image size in bytes: ${formatBytes(bmap.imageSize)} -->`,
    `    <ImageSize> ${bmap.imageSize} </ImageSize>`,
    '',
    '    <!-- Size of a block in bytes -->',
    `    <BlockSize> ${bmap.blockSize} </BlockSize>`,
    '',
    '    <!-- Count of blocks in the image file -->',
    `    <BlocksCount> ${blocksCount} </BlocksCount>`,
    '',
    `    <!-- Count of mapped blocks: ${formatBytes(mapped * bmap.blockSize)} or ${percent}% -->`,
    `    <MappedBlocksCount> ${mapped} </MappedBlocksCount>`,
    '',
    '    <!-- Type of checksum used in this file -->',
    '    <ChecksumType> sha256 </ChecksumType>',
    '',
    '    <!-- The checksum of this file, computed with this value set to 64 ASCII "0" characters -->',
    '    <BmapFileChecksum> ',
  ].join('\n');
  const tail = [
    ' </BmapFileChecksum>',
    '',
    '    <!-- Mapped block ranges, inclusive; chksum is the SHA-256 of the range\'s bytes -->',
    '    <BlockMap>',
    `${ranges.join('')}    </BlockMap>`,
    '</bmap>',
    '',
  ].join('\n');
  return head + sha256(head + CHECKSUM_PLACEHOLDER + tail) + tail;
}

function element(text: string, name: string): string {
  const m = new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`).exec(text);
  if (!m) throw new Error(`bmap has no <${name}> element`);
  return m[1]!;
}

function integer(text: string, name: string): number {
  const value = Number(element(text, name));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`bmap <${name}> is not a whole number`);
  return value;
}

/** Read a version 1.4/2.x bmap back: for tests and for inspecting a build's output. */
export function parseBmap(text: string): ParsedBmap {
  const version = /<bmap\s+version="([^"]+)"/.exec(text)?.[1];
  if (version === undefined) throw new Error('not a bmap file: no <bmap version="…"> element');
  const bmapFileChecksum = element(text, 'BmapFileChecksum');
  const at = text.indexOf(bmapFileChecksum);
  const zeroed = text.slice(0, at) + '0'.repeat(bmapFileChecksum.length) + text.slice(at + bmapFileChecksum.length);
  const ranges = [...text.matchAll(/<Range(?:\s+chksum="([^"]*)")?\s*>\s*(\d+)(?:\s*-\s*(\d+))?\s*<\/Range>/g)].map((m) => ({
    first: Number(m[2]),
    last: Number(m[3] ?? m[2]),
    sha256: m[1],
  }));
  return {
    version,
    imageSize: integer(text, 'ImageSize'),
    blockSize: integer(text, 'BlockSize'),
    blocksCount: integer(text, 'BlocksCount'),
    mappedBlocksCount: integer(text, 'MappedBlocksCount'),
    checksumType: element(text, 'ChecksumType'),
    bmapFileChecksum,
    bmapFileChecksumValid: sha256(zeroed) === bmapFileChecksum,
    ranges,
  };
}
