import { open, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/** Blocks of this size that hold only zeros become holes: the page size, and bmap's block size. */
export const SPARSE_BLOCK_BYTES = 4096;

const isZero = (buf: Buffer): boolean => {
  // Compare 8 bytes at a time; a decompressed disk image is mostly zeros.
  const words = Math.floor(buf.length / 8);
  for (let i = 0; i < words; i++) if (buf.readBigUInt64LE(i * 8) !== 0n) return false;
  for (let i = words * 8; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
};

/**
 * A stream sink that writes a disk image sparsely: all-zero blocks are skipped (left as holes)
 * and the file is truncated to its full length at the end, as `cp --sparse=always` would.
 */
export class SparseWriter extends Writable {
  #fd: FileHandle | undefined;
  #pending = Buffer.alloc(0);
  #position = 0;
  readonly path: string;

  constructor(path: string) {
    super({ highWaterMark: 1 << 20 });
    this.path = path;
  }

  override _construct(done: (e?: Error | null) => void): void {
    open(this.path, 'w', 0o600).then((fd) => { this.#fd = fd; done(); }, done);
  }

  async #flush(buf: Buffer): Promise<void> {
    for (let off = 0; off < buf.length; off += SPARSE_BLOCK_BYTES) {
      const block = buf.subarray(off, off + SPARSE_BLOCK_BYTES);
      if (!isZero(block)) await this.#fd!.write(block, 0, block.length, this.#position + off);
    }
    this.#position += buf.length;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    const data = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    const whole = data.length - (data.length % SPARSE_BLOCK_BYTES);
    this.#pending = Buffer.from(data.subarray(whole));
    this.#flush(data.subarray(0, whole)).then(() => done(), done);
  }

  override _final(done: (e?: Error | null) => void): void {
    this.#flush(this.#pending)
      .then(() => this.#fd!.truncate(this.#position))
      .then(() => this.#fd!.sync())
      .then(() => done(), done);
  }

  override _destroy(err: Error | null, done: (e?: Error | null) => void): void {
    (this.#fd ? this.#fd.close() : Promise.resolve()).then(() => done(err), () => done(err));
  }

  /** Bytes written so far, holes included. */
  get size(): number {
    return this.#position;
  }
}
