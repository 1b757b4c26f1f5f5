import { createReadStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { xzDecompress } from '../tools/xz.ts';
import { imgforgeError } from '../errors/error.ts';
import { run, TOOLS } from '../tools/run.ts';
import { SparseWriter } from './sparse-writer.ts';

export type Container = 'raw' | 'qcow2' | 'xz' | 'zstd' | 'gzip';

/** Identify a file by its magic bytes rather than its name (qcow2 spec "QFI\xfb"; xz, zstd, gzip headers). */
export async function detectContainer(path: string): Promise<Container> {
  const fd = await open(path, 'r');
  try {
    const head = Buffer.alloc(8);
    await fd.read(head, 0, 8, 0);
    if (head.subarray(0, 4).equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]))) return 'qcow2';
    if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
    if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
    if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
    return 'raw';
  } finally {
    await fd.close();
  }
}

/**
 * Turn a published base into a sparse raw image at dest: decompressed as a stream (holes
 * skipped, never buffered whole) or converted by qemu-img. Written under a temporary name.
 */
export async function toRawImage(source: string, dest: string): Promise<Container> {
  const container = await detectContainer(source);
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    if (container === 'qcow2') {
      await run(TOOLS.qemuImg, ['convert', '-f', 'qcow2', '-O', 'raw', source, tmp]);
    } else if (container === 'xz') {
      const xz = xzDecompress(source);
      const done = pipeline(xz.stdout, new SparseWriter(tmp));
      await Promise.all([xz.done, done]).catch(async (e: unknown) => {
        xz.kill();
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw imgforgeError('ToolMissing', { tool: 'xz', pkg: TOOLS.xz.pkg });
        throw imgforgeError('BaseInvalid', { path: source, detail: `xz could not decompress it (${(e as Error).message.split('\n')[0]})` }, { cause: e });
      });
    } else {
      const stages = container === 'zstd' ? [createZstdDecompress()] : container === 'gzip' ? [createGunzip()] : [];
      await pipeline([createReadStream(source), ...stages, new SparseWriter(tmp)]).catch((e: unknown) => {
        throw imgforgeError('BaseInvalid', { path: source, detail: `could not decompress it as ${container} (${(e as Error).message})` }, { cause: e });
      });
    }
    await rename(tmp, dest);
    return container;
  } finally {
    await rm(tmp, { force: true });
  }
}
