import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { dataExtents } from '../tools/filefrag.ts';

const CHUNK_BYTES = 1 << 20;
const ZEROS = Buffer.alloc(CHUNK_BYTES);

/**
 * SHA-256 of a file, reading only its data extents: holes are hashed as zeros fed from memory,
 * so a sparse 3.5 GiB base with 600 MiB of data costs 600 MiB of reads. One buffer, reused.
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const fd = await open(path, 'r');
  try {
    const size = (await fd.stat()).size;
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    let pos = 0;
    const zeros = (until: number): void => {
      for (; pos < until; pos += Math.min(CHUNK_BYTES, until - pos)) hash.update(ZEROS.subarray(0, Math.min(CHUNK_BYTES, until - pos)));
    };
    for (const e of await dataExtents(path, size)) {
      zeros(e.offset);
      for (const end = e.offset + e.length; pos < end; ) {
        const { bytesRead } = await fd.read(buf, 0, Math.min(CHUNK_BYTES, end - pos), pos);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
    }
    zeros(size);
  } finally {
    await fd.close();
  }
  return hash.digest('hex');
}

/**
 * The hash for `name` in a SHA256SUMS file. Ubuntu writes "<hash> *<name>" (binary mode);
 * coreutils' default is "<hash>  <name>"; both are read.
 */
export function findSha256(sums: string, name: string): string | undefined {
  for (const line of sums.split('\n')) {
    const m = /^([0-9a-fA-F]{64}) [ *](.+?)\s*$/.exec(line);
    if (m && (m[2] === name || m[2] === `./${name}`)) return m[1]!.toLowerCase();
  }
  return undefined;
}
