import { createHash, type Hash } from 'node:crypto';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { renderBmap, BMAP_BLOCK_BYTES as BLOCK } from '../../image/bmap.ts';
import { dataExtents, type Extent } from '../../tools/filefrag.ts';
import { CHUNK_BYTES, readPieces } from './copy.ts';
import { merge } from '../../plan/extents.ts';

const ZEROS = Buffer.alloc(CHUNK_BYTES);
const ZERO_BLOCK = ZEROS.subarray(0, BLOCK);
/** Zeros hashed between two turns of the event loop, so that I/O started elsewhere keeps going. */
const ZEROS_PER_TURN = CHUNK_BYTES;

export interface ImageDigest {
  readonly sha256: string;
  readonly bmap: string;
  readonly mappedBytes: number;
}

/** Builds bmap ranges from runs of mapped blocks visited in increasing order, hashing each range as it grows. */
class Ranges {
  readonly list: { first: number; last: number; sha256: string }[] = [];
  #open: { first: number; last: number; hash: Hash } | undefined;
  mappedBytes = 0;

  /** Blocks first, first+1, … holding `data` (the image's last block may be short). */
  visit(first: number, data: Buffer): void {
    if (!this.#open || first !== this.#open.last + 1) {
      this.close();
      this.#open = { first, last: first - 1, hash: createHash('sha256') };
    }
    this.#open.hash.update(data);
    this.#open.last = first + Math.ceil(data.length / BLOCK) - 1;
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

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The SHA-256 and bmap of an image, computed front to back in one pass that can stop at any
 * block boundary and go on later: data is hashed as read, holes as zeros fed from memory.
 */
class ImageHasher {
  readonly size: number;
  readonly #forced: { first: number; last: number }[];
  #f = 0;
  readonly #whole = createHash('sha256');
  readonly #ranges = new Ranges();
  /** Every byte before this is hashed. */
  position = 0;
  /** Sees every data chunk as it is hashed (holes, zeros, are not shown)... */
  #observe: ((chunk: Buffer, pos: number) => void) | undefined;
  /** ...from this position on. */
  observedFrom = 0;

  /** Show the data chunks from here on to `f` (a second call with the same f changes nothing). */
  watch(f: ((chunk: Buffer, pos: number) => void) | undefined): void {
    if (f === this.#observe) return;
    this.#observe = f;
    this.observedFrom = this.position;
  }

  constructor(size: number, mustMap: readonly Extent[]) {
    this.size = size;
    this.#forced = blockRanges(mustMap);
  }

  #isForced(b: number): boolean {
    const forced = this.#forced;
    while (this.#f < forced.length && forced[this.#f]!.last < b) this.#f++;
    return this.#f < forced.length && forced[this.#f]!.first <= b;
  }

  /** Zeros from position to `until`: into the whole hash, and into the ranges of forced blocks among them. */
  async #hole(until: number): Promise<void> {
    const from = this.position;
    for (let p = from, fed = 0; p < until; p += CHUNK_BYTES) {
      this.#whole.update(ZEROS.subarray(0, Math.min(CHUNK_BYTES, until - p)));
      if ((fed += CHUNK_BYTES) % ZEROS_PER_TURN === 0) await turn();
    }
    const firstBlock = Math.ceil(from / BLOCK), endBlock = Math.ceil(until / BLOCK); // blocks [firstBlock, endBlock) start in the hole
    for (const r of this.#forced) {
      for (let b = Math.max(r.first, firstBlock); b <= r.last && b < endBlock;) {
        const n = Math.min(r.last + 1, endBlock, b + CHUNK_BYTES / BLOCK) - b;
        this.#ranges.visit(b, ZEROS.subarray(0, Math.min(n * BLOCK, this.size - b * BLOCK)));
        b += n;
      }
    }
    this.position = until;
  }

  /** Data read at pos (block-aligned, at or after position): hashed whole, and its mapped blocks into the ranges. */
  #data(chunk: Buffer, pos: number): void {
    if (pos < this.position) { chunk = chunk.subarray(this.position - pos); pos = this.position; }
    this.#observe?.(chunk, pos);
    this.#whole.update(chunk);
    let runStart = -1;
    for (let off = 0; off < chunk.length; off += BLOCK) {
      const end = Math.min(off + BLOCK, chunk.length);
      const mapped = this.#isForced((pos + off) / BLOCK) || chunk.compare(ZERO_BLOCK, 0, end - off, off, end) !== 0;
      if (mapped && runStart < 0) runStart = off;
      if (!mapped && runStart >= 0) {
        this.#ranges.visit((pos + runStart) / BLOCK, chunk.subarray(runStart, off));
        runStart = -1;
      }
    }
    if (runStart >= 0) this.#ranges.visit((pos + runStart) / BLOCK, chunk.subarray(runStart));
    this.position = pos + chunk.length;
  }

  /** Hash [position, until) of the file open at fd, whose data lies only within `extents` there. */
  async feed(fd: FileHandle, extents: readonly Extent[], until: number): Promise<void> {
    // Widened to whole blocks (reading a little more is harmless; a block is only ever judged whole).
    const within = merge(extents.map((e) => {
      const a = Math.max(this.position, Math.floor(e.offset / BLOCK) * BLOCK), b = Math.min(until, Math.ceil((e.offset + e.length) / BLOCK) * BLOCK);
      return { offset: a, length: b - a };
    }));
    await readPieces(fd, within, this.position, until - this.position, async (chunk, pos) => {
      if (pos > this.position) await this.#hole(pos);
      this.#data(chunk, pos);
    });
    if (until > this.position) await this.#hole(until);
  }

  finish(): ImageDigest {
    this.#ranges.close();
    const list = this.#ranges.list.sort((a, b) => a.first - b.first);
    return { sha256: this.#whole.digest('hex'), bmap: renderBmap({ imageSize: this.size, blockSize: BLOCK, ranges: list }), mappedBytes: this.#ranges.mappedBytes };
  }
}

/**
 * Head starts: images whose first bytes are final before the image is (assembleImage hashes
 * them while it writes the rest), keyed by path. digestImage takes one up only for the same
 * file (device and inode), size and must-map regions; otherwise it starts from byte 0.
 */
const headStarts = new Map<string, { hasher: ImageHasher; dev: number; ino: number; mustMap: string }>();

/**
 * Hash [0, until) of the image at path now, while later bytes are still being written. Nothing
 * may write below `until` afterwards; `written` covers every byte below it that is not zero
 * (regions never written read as zeros in a fresh file). digestImage(path) then goes on from there.
 */
export async function digestHead(path: string, size: number, mustMap: readonly Extent[], written: readonly Extent[], until: number,
  observe?: (chunk: Buffer, pos: number) => void): Promise<void> {
  headStarts.delete(path);
  const hasher = new ImageHasher(size, mustMap);
  hasher.watch(observe);
  const fd = await open(path, 'r');
  try {
    await hasher.feed(fd, written, Math.min(until, size) - (Math.min(until, size) % BLOCK));
    const st = await fd.stat();
    headStarts.set(path, { hasher, dev: st.dev, ino: st.ino, mustMap: JSON.stringify(mustMap) });
  } finally {
    await fd.close();
  }
}

/** Forget a head start (the build failed before digesting). */
export function dropDigestHead(path: string): void {
  headStarts.delete(path);
}

/**
 * One pass over an image (from where a head start stopped): its SHA-256 (holes hashed as zeros fed from memory, never read) and its
 * bmap. A block is mapped when it holds data or lies in a region that must reach the disk even
 * when zero (partition tables, the seed's FAT, the heads of reserved partitions): a sparse write
 * leaves the disk's old bytes in every unmapped block. Memory stays constant whatever the size.
 */
export async function digestImage(path: string, size: number, mustMap: readonly Extent[],
  /** Shown every data chunk as it is hashed (the secrets audit scans them as they go by); the
   *  result's observedFrom says from where (0 when the head start was shown the same). */
  observe?: (chunk: Buffer, pos: number) => void): Promise<ImageDigest & { readonly observedFrom: number }> {
  const head = headStarts.get(path);
  headStarts.delete(path);
  let hasher = new ImageHasher(size, mustMap);
  if (head && head.hasher.size === size && head.mustMap === JSON.stringify(mustMap)) {
    const st = await stat(path).catch(() => undefined);
    if (st && st.dev === head.dev && st.ino === head.ino) hasher = head.hasher;
  }
  hasher.watch(observe);
  const fd = await open(path, 'r');
  try {
    await hasher.feed(fd, await dataExtents(path, size), size);
  } finally {
    await fd.close();
  }
  return { ...hasher.finish(), observedFrom: hasher.observedFrom };
}
