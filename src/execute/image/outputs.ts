import { createReadStream, createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { open, readdir, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createZstdCompress } from 'node:zlib';
import { xzCompress } from '../../tools/xz.ts';
import { imgforgeError } from '../../errors/error.ts';
import { formatBytes } from '../../util/size.ts';

/** A build's folder for its unfinished outputs, inside the output folder (so renames stay on one file system). */
const WORK = /^\.imgforge-build-(\d+)$/;

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
 * Files of one build that live in a hidden work folder of the output folder until every one is
 * complete. Then each is synced to disk, all are renamed into place (the manifest last: a
 * manifest under its final name means its image is whole) and the folder is synced. On failure
 * or Ctrl-C the work folder is removed, and with it anything still being written: a write that
 * was under way when the signal came finds no folder to write into.
 */
export class PendingOutputs {
  readonly #pending = new Map<string, string>(); // temp -> final
  #work: string | undefined;

  temp(final: string): string {
    this.#work ??= join(dirname(final), `.imgforge-build-${process.pid}`);
    mkdirSync(this.#work, { recursive: true, mode: 0o700 });
    const tmp = join(this.#work, basename(final));
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
    if (this.#work) await rm(this.#work, { recursive: true, force: true });
    this.#pending.clear();
  }

  /** From a signal handler, where awaiting is not possible. */
  discardSync(): void {
    if (this.#work) rmSync(this.#work, { recursive: true, force: true });
    this.#pending.clear();
  }

  /** At the end of a build: the (empty) work folder goes. */
  async close(): Promise<void> {
    await this.discard();
  }

  /**
   * Remove what builds killed without a chance to clean up (kill -9 runs no handler) left in
   * this folder: work folders whose process is gone. A build still running keeps its own.
   */
  async sweep(dir: string): Promise<string[]> {
    const names = await readdir(dir).catch(() => [] as string[]);
    const gone = names.filter((n) => { const m = WORK.exec(n); return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1])); });
    for (const n of gone) await rm(join(dir, n), { recursive: true, force: true });
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

/**
 * Ctrl-C or SIGTERM while a build writes: what is unfinished goes, and the process ends as the
 * signal would (130, 143). Returns what stops listening once the build is over.
 */
export function discardOnSignal(outputs: PendingOutputs): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    outputs.discardSync();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}
