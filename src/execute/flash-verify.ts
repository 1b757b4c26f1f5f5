/**
 * Read a flashed target back and compare it with what was written: every copied piece against
 * the hash taken as it was written (its source checked against the bmap), the head and the backup
 * GPT byte for byte, and the zeroed regions as zeros. On a block device the page cache is dropped
 * first (BLKFLSBUF), so the bytes come from the medium; a file reads back through the page cache.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { imgforgeError } from '../errors/error.ts';
import type { FlashPlan } from '../plan/flash.ts';
import { subtract, type Extent } from '../plan/extents.ts';
import { chunkBuffers, readAhead, readExact } from './flash-io.ts';

export interface Written {
  readonly regions: readonly Extent[];
  readonly holdBack: readonly Extent[];
  /** SHA-256 of each range's bytes as written (head and skipped parts left out), in range order. */
  readonly echoes: readonly string[];
  readonly head: Buffer;
}

export async function verifyFlash(plan: FlashPlan, fh: FileHandle, w: Written, progress: (done: number, total: number) => void): Promise<void> {
  // Loaded only for a block device: a flash to a file need not wait for the tool runner's library.
  if (plan.target.kind === 'block') await (await import('../tools/blockdev.ts')).flushBuffers(plan.target.path);
  const fail = (detail: string): never => { throw imgforgeError('FlashVerifyFailed', { target: plan.target.path, detail }); };
  const total = plan.mappedBytes + plan.zero.reduce((n, z) => n + z.length, 0);
  let done = 0;
  const buffers = chunkBuffers();
  for (let i = 0; i < w.regions.length; i++) {
    const r = w.regions[i]!;
    const hash = createHash('sha256');
    for await (const { data } of readAhead(fh, subtract(r, w.holdBack), buffers)) hash.update(data);
    if (hash.digest('hex') !== w.echoes[i]) fail(`bytes ${r.offset}-${r.offset + r.length - 1} read back differently from how they were written`);
    progress((done += r.length), total);
  }
  if (!(await readExact(fh, 0, w.head.length)).equals(w.head)) fail('the first MiB (partition table and boot area) read back differently');
  if (plan.gpt && !(await readExact(fh, plan.gpt.backupOffsetBytes, plan.gpt.backup.length)).equals(plan.gpt.backup)) fail("the backup GPT at the drive's end read back differently");
  for await (const { offset, data } of readAhead(fh, plan.zero, buffers)) {
    if (data.some((b) => b !== 0)) fail(`the zeroed bytes from ${offset} read back as data`);
    progress((done += data.length), total);
  }
}
