// The synthetic base of the build benchmark: the Ubuntu noble cloud image's shape with a realistic
// amount of incompressible data, built from plain files (mke2fs -d, mkfs.fat --offset, mtools):
// no loop device, no root.
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, ftruncateSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { nobleGpt, rootTree } from '../../test/fixtures/bases.ts';

const MIB = 2 ** 20;
const SECTOR = 512;
const sh = (cmd: string, args: string[], env: Record<string, string> = {}): string =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', ...env } });

/** Write `bytes` of incompressible data under dir as files of log-uniform sizes (512 B to 4 MiB), like a root fs. */
function randomFiles(dir: string, bytes: number, seed: number): number {
  let x = seed >>> 0 || 1;
  const rand = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
  const chunk = Buffer.allocUnsafe(4 * MIB);
  let left = bytes, n = 0;
  while (left > 0) {
    const size = Math.min(left, Math.round(512 * 2 ** (rand() * 13)));
    const sub = join(dir, `d${String(n >> 6).padStart(3, '0')}`);
    if (n % 64 === 0) mkdirSync(sub, { recursive: true });
    randomFillSync(chunk, 0, size);
    writeFileSync(join(sub, `f${n}.bin`), chunk.subarray(0, size));
    left -= size;
    n++;
  }
  return n;
}

/** The Ubuntu noble cloud image's shape (see nobleGpt) on a disk of sizeBytes, /boot at its real 913 MiB. */
export function nobleBase(dir: string, sizeBytes: number, dataBytes: number): { image: string; files: number } {
  const image = join(dir, 'noble-bench.img');
  const sectors = sizeBytes / SECTOR;
  const rootFirst = 2099200, rootLast = sectors - 34;
  const rootBytes = Math.floor(((rootLast - rootFirst + 1) * SECTOR) / 4096) * 4096;
  const bootData = Math.min(Math.floor(dataBytes / 8), 75 * MIB);
  const espData = Math.min(Math.floor(dataBytes / 100), 6 * MIB);
  const rootData = dataBytes - bootData - espData;
  if (rootData > rootBytes * 0.8) throw new Error(`${dataBytes / MIB} MiB of data does not fit a ${Math.floor(rootBytes / MIB)} MiB root`);

  const fd = openSync(image, 'w');
  ftruncateSync(fd, sizeBytes);
  const gpt = nobleGpt(sectors, { bootLast: 2097151, rootFirst, rootLast });
  writeSync(fd, gpt.primary, 0, gpt.primary.length, 0);
  writeSync(fd, gpt.backup, 0, gpt.backup.length, gpt.backupOffsetBytes);
  const core = randomFillSync(Buffer.alloc(120 * 1024)); // GRUB's core.img in the BIOS boot partition
  writeSync(fd, core, 0, core.length, 2048 * SECTOR);
  closeSync(fd);

  const e2env = { E2FSPROGS_FAKE_TIME: '1700000000' };
  const mke2fs = (label: string, offset: number, bytes: number, tree: string): void => {
    sh('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-L', label, '-U', 'clear', '-E', `offset=${offset},root_owner=0:0`, '-d', tree, image, String(bytes / 4096)], e2env);
  };
  // ESP: FAT32 with the EFI binaries (shim, GRUB).
  sh('mkfs.fat', ['-F', '32', '-s', '1', '-n', 'UEFI', '-i', '12345678', '--invariant', '--offset=10240', image, String(((227327 - 10240 + 1) * SECTOR) / 1024)]);
  const esp = join(dir, 'esp');
  mkdirSync(esp);
  if (espData > 0) {
    writeFileSync(join(esp, 'shimx64.efi'), randomFillSync(Buffer.alloc(Math.floor(espData / 3))));
    writeFileSync(join(esp, 'grubx64.efi'), randomFillSync(Buffer.alloc(espData - Math.floor(espData / 3))));
    sh('mmd', ['-i', `${image}@@${10240 * SECTOR}`, '::EFI', '::EFI/BOOT'], { MTOOLS_SKIP_CHECK: '1' });
    sh('mcopy', ['-i', `${image}@@${10240 * SECTOR}`, join(esp, 'shimx64.efi'), join(esp, 'grubx64.efi'), '::EFI/BOOT/'], { MTOOLS_SKIP_CHECK: '1' });
  }
  // /boot: a kernel and an initrd.
  const bootTree = join(dir, 'boot-tree');
  mkdirSync(bootTree);
  writeFileSync(join(bootTree, 'vmlinuz'), randomFillSync(Buffer.alloc(Math.floor(bootData / 5))));
  writeFileSync(join(bootTree, 'initrd.img'), randomFillSync(Buffer.alloc(bootData - Math.floor(bootData / 5))));
  mke2fs('BOOT', 227328 * SECTOR, ((2097151 - 227328 + 1) * SECTOR) / 4096 * 4096, bootTree);
  // Root: the fixture's files (machine-id and friends, which the build edits) and the bulk.
  const rootDir = rootTree(join(dir, 'root-tree'));
  const files = randomFiles(join(rootDir, 'usr/lib/bench'), rootData, 0x5eed);
  mke2fs('cloudimg-rootfs', rootFirst * SECTOR, rootBytes, rootDir);
  for (const t of [esp, bootTree, rootDir]) rmSync(t, { recursive: true, force: true });
  return { image, files };
}
