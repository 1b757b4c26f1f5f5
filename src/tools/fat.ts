import { run, runBinary, TOOLS } from './run.ts';

/**
 * Make a FAT file system (FAT16 with 2 KiB clusters unless told otherwise) inside a partition of an image file. mkfs.fat picks the FAT type and
 * cluster size from the whole file, not the partition, so both are given explicitly
 * (boards-images.md §5.3); --invariant and -i make the result byte-identical between runs.
 */
export async function mkfsFat(image: string, opts: { offsetBytes: number; sizeBytes: number; label: string; volumeId: string; fatBits?: 16 | 32; clusterSectors?: number }): Promise<void> {
  const sectors = opts.offsetBytes / 512;
  await run(TOOLS.mkfsFat, [
    '-F', String(opts.fatBits ?? 16),
    '-s', String(opts.clusterSectors ?? 4),
    '-S', '512',
    '-n', opts.label,
    '-i', opts.volumeId,
    '-h', String(sectors),
    '--invariant',
    `--offset=${sectors}`,
    image,
    String(opts.sizeBytes / 1024),
  ], { env: { LC_ALL: 'C' } });
}

/** Copy files into the root of a FAT file system at a byte offset of an image (mtools "img@@offset"). */
export async function mcopy(image: string, offsetBytes: number, files: readonly string[], dest = '::'): Promise<void> {
  // -m keeps the files' modification times (set by the caller for reproducible images).
  await run(TOOLS.mcopy, ['-i', `${image}@@${offsetBytes}`, '-m', '-o', ...files, dest], { env: { MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C' } });
}

/** List the root of a FAT file system at an offset: name and size per file. */
export async function mdir(image: string, offsetBytes: number): Promise<string> {
  return (await run(TOOLS.mdir, ['-i', `${image}@@${offsetBytes}`, '-b', '::'], { env: { MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C' } })).stdout;
}

/** Read one file from the root of a FAT file system at an offset. */
export async function mtype(image: string, offsetBytes: number, name: string): Promise<string> {
  return (await mtypeBytes(image, offsetBytes, name)).toString('utf8');
}

/** The same, as bytes (the node bundle is a tar archive). */
export async function mtypeBytes(image: string, offsetBytes: number, name: string): Promise<Buffer> {
  return (await runBinary(TOOLS.mtype, ['-i', `${image}@@${offsetBytes}`, `::${name}`], { env: { MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C' } })).stdout;
}
