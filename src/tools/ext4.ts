import { run, runBinary, TOOLS } from './run.ts';

/** e2fsprogs take "image?offset=<bytes>" to work on a file system inside a disk image (lib/ext2fs/unix_io.c). */
const at = (image: string, offsetBytes: number): string => `${image}?offset=${offsetBytes}`;

/**
 * Run a debugfs command batch on the ext2/3/4 file system at offset. E2FSPROGS_FAKE_TIME pins the
 * times debugfs writes into inodes and the superblock, so edits are reproducible.
 */
export async function debugfs(image: string, offsetBytes: number, commands: readonly string[], opts: { write: boolean; epoch: number }): Promise<string> {
  const r = await run(TOOLS.debugfs, [...(opts.write ? ['-w'] : []), '-f', '-', at(image, offsetBytes)], {
    input: `${commands.join('\n')}\n`,
    env: { E2FSPROGS_FAKE_TIME: String(opts.epoch), LC_ALL: 'C' },
  });
  return `${r.stdout}${r.stderr}`;
}

/** Read one file from the file system at offset; undefined when it does not exist. */
export async function readExtFile(image: string, offsetBytes: number, path: string): Promise<Buffer | undefined> {
  const r = await runBinary(TOOLS.debugfs, ['-R', `cat ${path}`, at(image, offsetBytes)], { env: { LC_ALL: 'C' } });
  return /not found/i.test(r.stderr) ? undefined : r.stdout;
}

/** e2fsck -fn: a full read-only check; throws when the file system has errors. */
export async function e2fsckReadOnly(image: string, offsetBytes: number): Promise<void> {
  await run(TOOLS.e2fsck, ['-f', '-n', at(image, offsetBytes)], { env: { LC_ALL: 'C' } });
}
