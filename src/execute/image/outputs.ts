import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, statfs, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createZstdCompress } from 'node:zlib';
import { xzCompress } from '../../tools/xz.ts';
import { imgforgeError } from '../../errors/error.ts';
import { formatBytes } from '../../util/size.ts';

/**
 * Files of one build that exist only under temporary names until every one is complete; then
 * they are renamed into place together. On failure or Ctrl-C they are removed, so nothing is
 * ever left under a final name half-written.
 */
export class PendingOutputs {
  readonly #pending = new Map<string, string>(); // temp -> final

  temp(final: string): string {
    const dir = final.slice(0, final.lastIndexOf('/') + 1);
    const tmp = `${dir}.${final.slice(dir.length)}.tmp-${process.pid}`;
    this.#pending.set(tmp, final);
    return tmp;
  }

  async write(final: string, content: string): Promise<void> {
    await writeFile(this.temp(final), content, { mode: 0o600 });
  }

  async commit(): Promise<void> {
    for (const [tmp, final] of this.#pending) await rename(tmp, final);
    this.#pending.clear();
  }

  async discard(): Promise<void> {
    for (const tmp of this.#pending.keys()) await rm(tmp, { force: true });
    this.#pending.clear();
  }

  discardSync(): void {
    // Used from a signal handler, where awaiting is not possible.
    for (const tmp of this.#pending.keys()) {
      try { process.getBuiltinModule('node:fs').rmSync(tmp, { force: true }); } catch { /* best effort */ }
    }
  }
}

/** Refuse early, before writing gigabytes, when the output file system cannot hold the result. */
export async function ensureSpace(dir: string, needed: number): Promise<void> {
  const s = await statfs(dir);
  const available = s.bavail * s.bsize;
  if (available < needed) throw imgforgeError('NoSpace', { path: dir, needed: formatBytes(needed), available: formatBytes(available) });
}

/** A compressed copy: zstd through Node's zlib, xz through xz(1). */
export async function compress(src: string, dest: string, kind: 'zstd' | 'xz'): Promise<void> {
  if (kind === 'zstd') {
    await pipeline(createReadStream(src, { highWaterMark: 1 << 20 }), createZstdCompress(), createWriteStream(dest, { mode: 0o600 }));
    return;
  }
  await xzCompress(src, dest);
}
