import { run, TOOLS } from './run.ts';

export interface Extent {
  readonly offset: number;
  readonly length: number;
}

/**
 * The byte ranges of a file that hold data, from FIEMAP via filefrag (e2fsprogs), so holes are
 * skipped rather than read. Where the file system cannot tell (no FIEMAP), the whole file is one
 * range: correct, only slower.
 */
export async function dataExtents(path: string, size: number): Promise<Extent[]> {
  let out: string;
  try {
    out = (await run(TOOLS.filefrag, ['-e', '-s', path], { env: { LC_ALL: 'C' } })).stdout;
  } catch {
    return size > 0 ? [{ offset: 0, length: size }] : [];
  }
  const block = Number(/blocks of (\d+) bytes/.exec(out)?.[1] ?? NaN);
  if (!Number.isFinite(block)) return size > 0 ? [{ offset: 0, length: size }] : [];
  const extents: Extent[] = [];
  for (const m of out.matchAll(/^\s*\d+:\s+(\d+)\.\.\s*(\d+):/gm)) {
    const offset = Number(m[1]) * block;
    const end = Math.min((Number(m[2]) + 1) * block, size);
    const last = extents.at(-1);
    if (last && last.offset + last.length === offset) extents[extents.length - 1] = { offset: last.offset, length: end - last.offset };
    else if (end > offset) extents.push({ offset, length: end - offset });
  }
  return extents;
}
