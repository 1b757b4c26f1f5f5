/**
 * Byte-moving helpers of the flash executor: whole reads at an offset, read-ahead, zero runs, and
 * a writer that syncs as it goes so progress counts what the device has, not what sits in the page
 * cache (bmaptool syncs every few MiB for the same reason).
 */
import type { FileHandle } from 'node:fs/promises';

export const CHUNK_BYTES = 4 * 2 ** 20;
/** On a drive, a sync starts each time this much is written: progress and Ctrl-C stay honest on slow media. */
export const SYNC_EVERY = 16 * 2 ** 20;
export const ZEROS = Buffer.alloc(CHUNK_BYTES);
const PAGE_BYTES = 4096;

export async function readExact(fh: FileHandle, offset: number, length: number, into: Buffer = Buffer.allocUnsafe(length)): Promise<Buffer> {
  const buf = into.subarray(0, length);
  let n = 0;
  while (n < length) {
    const { bytesRead } = await fh.read(buf, n, length - n, offset + n);
    if (bytesRead === 0) { buf.fill(0, n); break; } // past a file's end reads as zeros, as a sparse hole does
    n += bytesRead;
  }
  return buf;
}

/**
 * The runs of 4 KiB blocks of buf that hold any non-zero byte. Whole aligned blocks: a buffered
 * write of part of a page of a block device reads the rest of the page from the medium first.
 */
export function dataBlocks(buf: Buffer): { offset: number; length: number }[] {
  const runs: { offset: number; length: number }[] = [];
  for (let p = 0; p < buf.length; p += PAGE_BYTES) {
    const end = Math.min(p + PAGE_BYTES, buf.length);
    if (buf.subarray(p, end).equals(ZEROS.subarray(0, end - p))) continue;
    const last = runs.at(-1);
    if (last && last.offset + last.length === p) last.length = end - last.offset;
    else runs.push({ offset: p, length: end - p });
  }
  return runs;
}

/** Chunk buffers for readAhead (two unless told), for a caller that reads many region lists one after another. */
export const chunkBuffers = (count = 2): Buffer[] => Array.from({ length: count }, () => Buffer.allocUnsafe(CHUNK_BYTES));

/**
 * Chunks of the regions in order, each read while the one before is being used. The buffers take
 * turns, so memory stays at that many chunks whatever the image: with n buffers, a chunk is valid
 * until the (n - 1)th after it is asked for (two: until the next; three: it may still be being
 * written while the next is hashed).
 */
export async function* readAhead(fh: FileHandle, regions: readonly { offset: number; length: number }[],
  buffers: readonly Buffer[] = chunkBuffers()): AsyncGenerator<{ offset: number; data: Buffer }> {
  const chunks = regions.flatMap((r) => {
    const out: { offset: number; length: number }[] = [];
    for (let p = r.offset; p < r.offset + r.length; p += CHUNK_BYTES) out.push({ offset: p, length: Math.min(CHUNK_BYTES, r.offset + r.length - p) });
    return out;
  });
  const start = (i: number): Promise<Buffer> | undefined => {
    if (i >= chunks.length) return undefined;
    const p = readExact(fh, chunks[i]!.offset, chunks[i]!.length, buffers[i % buffers.length]);
    p.catch(() => { /* awaited on the next turn */ });
    return p;
  };
  let next = start(0);
  for (let i = 0; i < chunks.length; i++) {
    const data = await next!;
    next = start(i + 1);
    yield { offset: chunks[i]!.offset, data };
  }
}

/**
 * Writes at offsets, and starts an fdatasync(2) each `every` bytes while the next bytes are
 * written: the device always has work queued, and at most two lots are not yet durable.
 */
export class SyncedWriter {
  bytes = 0;
  #dirty = 0;
  #syncing: Promise<void> | null = null;
  readonly #fh: FileHandle;
  readonly #every: number;
  constructor(fh: FileHandle, every: number) { this.#fh = fh; this.#every = every; }

  async write(data: Buffer, offset: number): Promise<void> {
    for (let n = 0; n < data.length;) n += (await this.#fh.write(data, n, data.length - n, offset + n)).bytesWritten;
    this.bytes += data.length;
    if ((this.#dirty += data.length) >= this.#every) {
      await this.#syncing;
      const started = this.#fh.datasync();
      started.catch(() => { /* awaited by the next write or sync */ });
      this.#syncing = started;
      this.#dirty = 0;
    }
  }

  async zeros(offset: number, length: number): Promise<void> {
    for (let p = offset; p < offset + length; p += CHUNK_BYTES) await this.write(ZEROS.subarray(0, Math.min(CHUNK_BYTES, offset + length - p)), p);
  }

  /** Everything written so far is on the medium: fdatasync(2) on a block device also flushes the drive's write cache. */
  async sync(): Promise<void> {
    await this.#syncing;
    this.#syncing = null;
    await this.#fh.datasync();
    this.#dirty = 0;
  }
}
