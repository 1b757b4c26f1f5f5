/**
 * Carry out a flash plan (plan/flash.ts) and decide nothing: zero the head, copy the mapped ranges
 * checking each against the bmap's SHA-256 as it is read, zero stale metadata, write the backup
 * GPT, sync, write the head last, sync, read back, and let the kernel see the new table.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { imgforgeError } from '../errors/error.ts';
import type { FlashPlan } from '../plan/flash.ts';
import { subtract } from '../plan/extents.ts';
import { chunkBuffers, dataBlocks, readAhead, SYNC_EVERY, SyncedWriter } from './flash-io.ts';
import { rereadTable } from './flash-reread.ts';
import { verifyFlash } from './flash-verify.ts';

export type FlashPhase = 'write' | 'zero' | 'sync' | 'verify';

export interface FlashResult {
  readonly target: string;
  readonly writtenBytes: number;
  readonly mappedBytes: number;
  readonly seconds: number;
  readonly verified: boolean;
  /** How the kernel was made to read the new table (block devices), or why it could not be. */
  readonly reread: { readonly ok: boolean; readonly how: string } | null;
}

export interface FlashHooks {
  readonly onProgress?: (phase: FlashPhase, done: number, total: number) => void;
  /** Stop between chunks: the head stays zero, so the drive has no table. */
  readonly signal?: AbortSignal;
}

/** Block devices: O_EXCL fails with EBUSY while any partition is mounted, and keeps automounters out while held (open(2)). */
async function openTarget(plan: FlashPlan): Promise<FileHandle> {
  const t = plan.target;
  if (t.kind === 'block') {
    try {
      return await open(t.path, constants.O_RDWR | constants.O_EXCL);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (code === 'EBUSY') throw imgforgeError('FlashBusy', { target: t.path, detail: code }, { cause: e });
      throw imgforgeError('WriteFailed', { path: t.path, detail: (e as Error).message }, { cause: e });
    }
  }
  const fh = await open(t.path, t.exists ? 'r+' : 'w+', 0o644);
  if ((await fh.stat()).size < plan.sizeBytes) await fh.truncate(plan.sizeBytes);
  return fh;
}

export async function applyFlash(plan: FlashPlan, hooks: FlashHooks = {}): Promise<FlashResult> {
  const started = performance.now();
  const stop = (): void => { if (hooks.signal?.aborted) throw hooks.signal.reason; };
  const src = await open(plan.image, 'r');
  let fh: FileHandle | undefined;
  try {
    fh = await openTarget(plan);
    // A file's page cache is its destination's own: it is synced at the steps below, not as it goes.
    const out = new SyncedWriter(fh, plan.target.kind === 'block' ? SYNC_EVERY : Infinity);
    // 1. No table until the very end: an interrupted flash leaves a drive nothing boots or mounts.
    for (const z of plan.zeroFirst) await out.zeros(z.offset, z.length);
    // A file this flash creates (opened 'w+', so truncated) holds no old table to hide: there is
    // nothing yet to make durable, and on a busy disk each sync waits for a journal commit.
    if (plan.target.kind === 'block' || plan.target.exists) await out.sync();
    // 2. The mapped ranges; the head is kept in memory, the image's own backup GPT is not copied.
    const head = Buffer.alloc(plan.headBytes);
    const holdBack = [{ offset: 0, length: plan.headBytes }, ...plan.skip];
    // A range ending in a partial last block is hashed up to the image's end (bmap.ts BmapRange).
    const regions = plan.ranges.map((r) => ({ offset: r.first * plan.blockSize, length: Math.min((r.last + 1) * plan.blockSize, plan.imageBytes) - r.first * plan.blockSize }));
    // The read-back compares each range with a hash of what was written. A range nothing is held
    // back from is written whole, so that hash is the bmap's: each byte is hashed once, not twice.
    const cut = regions.map((r) => holdBack.some((h) => h.offset < r.offset + r.length && r.offset < h.offset + h.length));
    const echoes: string[] = [];
    let range = 0, hash = createHash('sha256'), echo = cut[0] ? createHash('sha256') : null, done = 0;
    // Each chunk is hashed while the one before is still being written (three buffers take turns,
    // so the one being written is not read into): hashing no longer waits on writing, as in
    // bmaptool, whose reader thread hashes. One write at a time, in order.
    let writing: Promise<void> = Promise.resolve();
    const writeOut = async (parts: readonly { bytes: Buffer; at: number }[]): Promise<void> => {
      for (const p of parts) await out.write(p.bytes, p.at);
    };
    try {
      for await (const { offset, data } of readAhead(src, regions, chunkBuffers(3))) {
        stop();
        hash.update(data);
        const parts = subtract({ offset, length: data.length }, holdBack).map((p) => ({ bytes: data.subarray(p.offset - offset, p.offset - offset + p.length), at: p.offset }));
        for (const p of parts) echo?.update(p.bytes);
        if (offset < plan.headBytes) data.copy(head, offset, 0, Math.min(data.length, plan.headBytes - offset));
        await writing;
        if (done > 0) hooks.onProgress?.('write', done, plan.mappedBytes);
        writing = writeOut(parts);
        writing.catch(() => { /* awaited on the next turn */ });
        done += data.length;
        const r = regions[range]!;
        if (offset + data.length === r.offset + r.length) {
          const got = hash.digest('hex');
          const want = plan.ranges[range]!.sha256;
          if (got !== want) {
            throw imgforgeError('FlashImageCorrupt', { image: plan.image, detail: `blocks ${plan.ranges[range]!.first}-${plan.ranges[range]!.last} have SHA-256 ${got}, the bmap says ${want}` });
          }
          echoes.push(echo ? echo.digest('hex') : got);
          range++;
          hash = createHash('sha256');
          echo = cut[range] ? createHash('sha256') : null;
        }
      }
      await writing;
      hooks.onProgress?.('write', done, plan.mappedBytes);
    } finally {
      // Stopped or failed: the last write ends before the target is closed under it.
      await writing.catch(() => { /* the error that stopped the loop is the one reported */ });
    }
    // 3. Stale metadata, then the new backup GPT at the drive's end.
    const zeroTotal = plan.zero.reduce((n, z) => n + z.length, 0);
    let zeroed = 0;
    for (const z of plan.zero) {
      stop();
      await out.zeros(z.offset, z.length);
      hooks.onProgress?.('zero', (zeroed += z.length), zeroTotal);
    }
    if (plan.gpt) await out.write(plan.gpt.backup, plan.gpt.backupOffsetBytes);
    hooks.onProgress?.('sync', 0, 1);
    await out.sync();
    stop();
    // 4. The head last: protective MBR, primary GPT, and the image's boot area after it.
    plan.gpt?.primary.copy(head, 0);
    // Step 1 left the head zeros on the medium and nothing has written there since, so only its
    // blocks holding data need writing (the whole MiB costs a thirtieth of a second on a 30 MiB/s
    // card). Unless the new backup GPT lies inside the head (a drive barely over 1 MiB): then the
    // whole head goes over it, as before.
    const whole = plan.gpt !== null && plan.gpt.backupOffsetBytes < plan.headBytes;
    for (const e of whole ? [{ offset: 0, length: head.length }] : dataBlocks(head)) await out.write(head.subarray(e.offset, e.offset + e.length), e.offset);
    await out.sync();
    if (plan.verify) await verifyFlash(plan, fh, { regions, holdBack, echoes, head }, (d, t) => hooks.onProgress?.('verify', d, t));
    await fh.close();
    fh = undefined;
    // The kernel rereads only once nobody holds the drive exclusively (block/genhd.c disk_scan_partitions).
    const reread = plan.target.kind === 'block' ? await rereadTable(plan) : null;
    return { target: plan.target.path, writtenBytes: out.bytes, mappedBytes: plan.mappedBytes, seconds: (performance.now() - started) / 1000, verified: plan.verify, reread };
  } finally {
    await fh?.close();
    await src.close();
  }
}
