import { ExecaError } from 'execa';
import { isImgforgeError } from '../errors/error.ts';
import { run, TOOLS } from './run.ts';

/** What libblkid found at one place of a device or file: TYPE, USAGE, LABEL, PTTYPE, ... as `blkid -o export` names them. */
export type Probe = Readonly<Record<string, string>>;

/**
 * blkid(8) low-level probing (-p) of the bytes at offsetBytes, sizeBytes long: it reads the
 * superblocks itself, so it works without udev and on a file, and -O/-S probe a partition of a
 * drive the kernel has no partition device for. Null when nothing is recognised (blkid exits 2).
 */
export async function blkidProbe(path: string, offsetBytes = 0, sizeBytes?: number): Promise<Probe | null> {
  const args = ['-p', '-o', 'export', ...(offsetBytes ? ['-O', String(offsetBytes)] : []), ...(sizeBytes ? ['-S', String(sizeBytes)] : []), path];
  try {
    const { stdout } = await run(TOOLS.blkid, args, { env: { LC_ALL: 'C' } });
    return Object.fromEntries(stdout.split('\n').flatMap((l) => { const i = l.indexOf('='); return i > 0 ? [[l.slice(0, i), l.slice(i + 1)]] : []; }));
  } catch (e) {
    if (isImgforgeError(e) && e.cause instanceof ExecaError && e.cause.exitCode === 2) return null;
    throw e;
  }
}
