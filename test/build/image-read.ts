// Reading built images in tests, with the same userspace tools a user has: sfdisk, debugfs.
import { execFileSync, spawnSync } from 'node:child_process';
import { openSync, readSync, closeSync } from 'node:fs';

export const run = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
export const sha = (path: string): string => run('sha256sum', [path]).split(' ')[0]!;

export function readRange(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}

export interface Part { node: string; start: number; size: number; name: string; uuid: string; type: string }
export function partitions(image: string): Part[] {
  const table = JSON.parse(run('sfdisk', ['--json', image])) as { partitiontable: { partitions: Part[] } };
  return table.partitiontable.partitions;
}
export const partNamed = (image: string, name: string): Part => partitions(image).find((p) => p.name === name)!;
export const extCat = (image: string, offset: number, path: string): string =>
  spawnSync('debugfs', ['-R', `cat ${path}`, `${image}?offset=${offset}`], { encoding: 'latin1' }).stdout;
export const extHas = (image: string, offset: number, path: string): boolean =>
  !/not found/.test(spawnSync('debugfs', ['-R', `stat ${path}`, `${image}?offset=${offset}`], { encoding: 'utf8' }).stderr);

export const tools = ['sgdisk', 'sfdisk', 'mkfs.fat', 'mcopy', 'debugfs', 'e2fsck', 'fsck.fat', 'bmaptool', 'filefrag'];
