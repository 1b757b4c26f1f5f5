import type { FileHandle } from 'node:fs/promises';
import type { Extent } from '../../tools/filefrag.ts';

/** Copy in 1 MiB reads; zero 4 KiB blocks (bmap's block) are skipped and stay holes. */
const CHUNK_BYTES = 1 << 20;
export const BLOCK_BYTES = 4096;

export function isZero(buf: Buffer): boolean {
  const words = buf.length >> 3;
  for (let i = 0; i < words; i++) if (buf.readBigUInt64LE(i << 3) !== 0n) return false;
  for (let i = words << 3; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Copy [from, from+length) of src to dst at `to`, reading only the source's data extents (holes
 * are never read) and writing only non-zero blocks, so the image stays as sparse as its base.
 */
export async function copySparse(src: FileHandle, extents: readonly Extent[], from: number, length: number, dst: FileHandle, to: number): Promise<number> {
  const end = from + length;
  const buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let written = 0;
  for (const e of extents) {
    const a = Math.max(e.offset, from), b = Math.min(e.offset + e.length, end);
    for (let pos = a; pos < b; pos += CHUNK_BYTES) {
      const n = Math.min(CHUNK_BYTES, b - pos);
      const { bytesRead } = await src.read(buf, 0, n, pos);
      for (let off = 0; off < bytesRead; off += BLOCK_BYTES) {
        const block = buf.subarray(off, Math.min(off + BLOCK_BYTES, bytesRead));
        if (!isZero(block)) {
          await dst.write(block, 0, block.length, to + (pos - from) + off);
          written += block.length;
        }
      }
    }
  }
  return written;
}
