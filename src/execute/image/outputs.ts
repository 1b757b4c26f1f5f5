import { createReadStream, createWriteStream } from 'node:fs';
import { open, readdir, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createZstdCompress } from 'node:zlib';
import { xzCompress } from '../../tools/xz.ts';
import { imgforgeError } from '../../errors/error.ts';
import { formatBytes } from '../../util/size.ts';

const TEMP = /^\.(.+)\.tmp-(\d+)$/;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Files of one build that exist only under temporary names until every one is complete. Then
 * each is synced to disk, all are renamed into place (the manifest last: a manifest under its
 * final name means its image is whole) and the folder is synced. On failure or Ctrl-C they are
 * removed, so nothing is ever left under a final name half-written.
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
    const entries = [...this.#pending].sort(([, a], [, b]) => Number(a.endsWith('.manifest.json')) - Number(b.endsWith('.manifest.json')));
    for (const [tmp] of entries) await fsyncPath(tmp);
    for (const [tmp, final] of entries) await rename(tmp, final);
    for (const dir of new Set(entries.map(([, f]) => dirname(f)))) await fsyncPath(dir);
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

  /**
   * Remove the temporaries an earlier build left when it was killed (kill -9 runs no handler):
   * ".<name>.tmp-<pid>" whose process is gone. A build still running keeps its own.
   */
  async sweep(dir: string): Promise<string[]> {
    const names = await readdir(dir).catch(() => [] as string[]);
    const gone = names.filter((n) => { const m = TEMP.exec(n); return m !== null && !alive(Number(m[2])); });
    for (const n of gone) await rm(join(dir, n), { force: true });
    return gone;
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
