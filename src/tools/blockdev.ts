import { run, TOOLS } from './run.ts';

/** BLKRRPART (`blockdev --rereadpt`): the kernel rereads the whole table; EBUSY while a partition is open. */
export async function blockdevRereadpt(device: string): Promise<void> {
  await run(TOOLS.blockdev, ['--rereadpt', device]);
}

/** BLKPG through partx(8): -d removes the kernel's partitions, -a adds the table's; works on kernels without partition parsers. */
export async function partx(mode: '-d' | '-a' | '-u', device: string): Promise<void> {
  await run(TOOLS.partx, [mode, device]);
}

/** BLKFLSBUF (`blockdev --flushbufs`): write back and drop the device's cached pages, so a read-back comes from the medium. */
export async function flushBuffers(device: string): Promise<void> {
  await run(TOOLS.blockdev, ['--flushbufs', device]);
}
