import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { renderBmap, BMAP_BLOCK_BYTES as BLOCK } from '../../image/bmap.ts';
import { dataExtents, type Extent } from '../../tools/filefrag.ts';
import { isZero } from './copy.ts';

const CHUNK_BYTES = 1 << 20;
const ZEROS = Buffer.alloc(CHUNK_BYTES);

export interface ImageDigest {
  readonly sha256: string;
  readonly bmap: string;
  readonly mappedBytes: number;
}

/** Builds bmap ranges from mapped blocks visited in increasing order, hashing each range as it grows. */
class Ranges {
  readonly list: { first: number; last: number; sha256: string }[] = [];
  #open: { first: number; last: number; hash: Hash } | undefined;
  mappedBytes = 0;

  visit(index: number, data: Buffer): void {
    if (!this.#open || index !== this.#open.last + 1) {
      this.close();
      this.#open = { first: index, last: index - 1, hash: createHash('sha256') };
    }
    this.#open.hash.update(data);
    this.#open.last = index;
    this.mappedBytes += data.length;
  }

  close(): void {
    if (this.#open) this.list.push({ first: this.#open.first, last: this.#open.last, sha256: this.#open.hash.digest('hex') });
    this.#open = undefined;
  }
}

/** Merge byte regions into sorted, disjoint inclusive block ranges. */
function blockRanges(regions: readonly Extent[]): { first: number; last: number }[] {
  const r = regions.map((e) => ({ first: Math.floor(e.offset / BLOCK), last: Math.ceil((e.offset + e.length) / BLOCK) - 1 })).sort((a, b) => a.first - b.first);
  const out: { first: number; last: number }[] = [];
  for (const x of r) {
    const prev = out.at(-1);
    if (prev && x.first <= prev.last + 1) prev.last = Math.max(prev.last, x.last);
    else out.push({ ...x });
  }
  return out;
}

/**
 * One pass over an image: its SHA-256 (holes hashed as zeros fed from memory, never read) and its
 * bmap. A block is mapped when it holds data or lies in a region that must reach the disk even
 * when zero (partition tables, the seed's FAT, the heads of reserved partitions): a sparse write
 * leaves the disk's old bytes in every unmapped block. Memory stays constant whatever the size.
 */
export async function digestImage(path: string, size: number, mustMap: readonly Extent[]): Promise<ImageDigest> {
  const forced = blockRanges(mustMap);
  let f = 0;
  const isForced = (b: number): boolean => {
    while (f < forced.length && forced[f]!.last < b) f++;
    return f < forced.length && forced[f]!.first <= b;
  };
  const whole = createHash('sha256');
  const ranges = new Ranges();
  const zeroBlock = (b: number): Buffer => ZEROS.subarray(0, Math.min(BLOCK, size - b * BLOCK));
  let pos = 0;
  const hole = (until: number): void => {
    for (let p = pos; p < until; p += CHUNK_BYTES) whole.update(ZEROS.subarray(0, Math.min(CHUNK_BYTES, until - p)));
    for (const r of forced) {
      for (let b = Math.max(r.first, Math.ceil(pos / BLOCK)); b <= r.last && b * BLOCK < until; b++) ranges.visit(b, zeroBlock(b));
    }
    pos = until;
  };
  const fd = await open(path, 'r');
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  try {
    for (const e of await dataExtents(path, size)) {
      hole(e.offset);
      while (pos < e.offset + e.length) {
        const { bytesRead } = await fd.read(buf, 0, Math.min(CHUNK_BYTES, e.offset + e.length - pos), pos);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        whole.update(chunk);
        for (let off = 0; off < bytesRead; off += BLOCK) {
          const block = chunk.subarray(off, off + BLOCK);
          const b = (pos + off) / BLOCK;
          if (isForced(b) || !isZero(block)) ranges.visit(b, block);
        }
        pos += bytesRead;
      }
    }
    hole(size);
  } finally {
    await fd.close();
  }
  ranges.close();
  const list = ranges.list.sort((a, b) => a.first - b.first);
  return { sha256: whole.digest('hex'), bmap: renderBmap({ imageSize: size, blockSize: BLOCK, ranges: list }), mappedBytes: ranges.mappedBytes };
}
