import type { FileHandle } from 'node:fs/promises';
import type { Extent } from '../../tools/filefrag.ts';

/** Copy in 1 MiB reads; zero 4 KiB blocks (bmap's block) are skipped and stay holes. */
export const CHUNK_BYTES = 1 << 20;
export const BLOCK_BYTES = 4096;
const ZERO_BLOCK = Buffer.alloc(BLOCK_BYTES);

/** Whether buf holds only zeros: native memcmp against a zero block, one block at a time. */
export function isZero(buf: Buffer): boolean {
  for (let off = 0; off < buf.length; off += BLOCK_BYTES) {
    const n = Math.min(BLOCK_BYTES, buf.length - off);
    if (buf.compare(ZERO_BLOCK, 0, n, off, off + n) !== 0) return false;
  }
  return true;
}

/**
 * The runs of consecutive non-zero BLOCK_BYTES blocks of buf (the last block may be short), as
 * [start, end) byte offsets, in increasing order.
 */
export function dataRuns(buf: Buffer): [number, number][] {
  const runs: [number, number][] = [];
  let start = -1;
  for (let off = 0; off < buf.length; off += BLOCK_BYTES) {
    const end = Math.min(off + BLOCK_BYTES, buf.length);
    if (buf.compare(ZERO_BLOCK, 0, end - off, off, end) !== 0) {
      if (start < 0) start = off;
    } else if (start >= 0) {
      runs.push([start, off]);
      start = -1;
    }
  }
  if (start >= 0) runs.push([start, buf.length]);
  return runs;
}

/** Read buffers no longer in use, kept for the next reader rather than left to the garbage collector. */
const spare: Buffer[] = [];

/** The CHUNK_BYTES pieces of the parts of `extents` that lie in [from, end), in order. */
function* pieces(extents: readonly Extent[], from: number, end: number): Generator<{ pos: number; n: number }> {
  for (const e of extents) {
    const a = Math.max(e.offset, from), b = Math.min(e.offset + e.length, end);
    for (let pos = a; pos < b; pos += CHUNK_BYTES) yield { pos, n: Math.min(CHUNK_BYTES, b - pos) };
  }
}

/**
 * Read the parts of `extents` in [from, from+length) of src in order, CHUNK_BYTES at a time, with
 * the next read under way while `each` handles the current chunk (two buffers, reused).
 */
export async function readPieces(src: FileHandle, extents: readonly Extent[], from: number, length: number,
  each: (chunk: Buffer, pos: number) => Promise<void> | void): Promise<void> {
  const bufs = [spare.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES), spare.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES)];
  const it = pieces(extents, from, from + length);
  let turn = 0;
  const start = (): Promise<{ chunk: Buffer; pos: number }> | null => {
    const next = it.next();
    if (next.done) return null;
    const { pos, n } = next.value, buf = bufs[turn++ % 2]!;
    const read = src.read(buf, 0, n, pos).then(({ bytesRead }) => ({ chunk: buf.subarray(0, bytesRead), pos }));
    read.catch(() => { /* awaited below; this only keeps an early failure from being unhandled */ });
    return read;
  };
  let pending = start();
  try {
    while (pending) {
      const { chunk, pos } = await pending;
      pending = start();
      await each(chunk, pos);
    }
  } finally {
    // A read still under way (after a failure) must not land in a buffer someone else reuses.
    await pending?.catch(() => undefined);
    spare.push(...bufs);
  }
}

/**
 * Copy [from, from+length) of src to dst at `to`, reading only the source's data extents (holes
 * are never read) and writing only non-zero blocks, so the image stays as sparse as its base.
 * Blocks are counted from the start of each extent's part; consecutive data blocks go out in one
 * write. Returns the bytes of the non-zero blocks written.
 */
export async function copySparse(src: FileHandle, extents: readonly Extent[], from: number, length: number, dst: FileHandle, to: number,
  /** Receives each region of dst written. */
  regions?: Extent[]): Promise<number> {
  let written = 0;
  await readPieces(src, extents, from, length, async (chunk, pos) => {
    for (const [s, e] of dataRuns(chunk)) {
      await dst.write(chunk, s, e - s, to + (pos - from) + s);
      const offset = to + (pos - from) + s, last = regions?.at(-1);
      if (last && last.offset + last.length === offset) regions![regions!.length - 1] = { offset: last.offset, length: last.length + e - s };
      else regions?.push({ offset, length: e - s });
      written += e - s;
    }
  });
  return written;
}
