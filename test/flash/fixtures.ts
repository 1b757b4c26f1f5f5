// Small images and fake hosts for the flash tests: a GPT image with an ESP-like FAT partition and
// an ext4 root holding real files, its bmap written by the build's own digester; and sysfs/proc
// trees shaped like a real kernel's, so every refusal is tested without a real disk.
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, openSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeGpt } from '../../src/image/gpt.ts';
import { digestImage } from '../../src/execute/image/digest.ts';
import { rootTree } from '../fixtures/bases.ts';

export const MIB = 2 ** 20;
const sh = (cmd: string, args: string[]): void => { execFileSync(cmd, args, { stdio: 'pipe', env: { ...process.env, E2FSPROGS_FAKE_TIME: '1700000000', LC_ALL: 'C' } }); };

/** A GPT image of sizeMib: p1 FAT "esp" (sectors 2048-67583), p2 ext4 root to the end; with its .bmap. */
export async function smallImage(dir: string, sizeMib = 64): Promise<{ image: string; sectors: number }> {
  const image = join(dir, 'small.img');
  const sectors = (sizeMib * MIB) / 512;
  const rootFirst = 67584, rootLast = sectors - 2048 - 1; // ends on a MiB boundary, a MiB short of the disk's end
  const gpt = encodeGpt({ diskSectors: sectors, diskGuid: '5B1D3C2A-1111-4222-8333-444455556666', bootCode: Buffer.alloc(440, 0xeb), partitions: [
    { number: 1, typeGuid: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', uniqueGuid: '5B1D3C2A-0000-4000-8000-000000000001', firstLba: 2048, lastLba: 67583, attributes: 0n, name: 'esp' },
    { number: 2, typeGuid: '0FC63DAF-8483-4772-8E79-3D69D8477DE4', uniqueGuid: '5B1D3C2A-0000-4000-8000-000000000002', firstLba: rootFirst, lastLba: rootLast, attributes: 0n, name: 'root' },
  ] });
  const fd = openSync(image, 'w');
  ftruncateSync(fd, sectors * 512);
  writeSync(fd, gpt.primary, 0, gpt.primary.length, 0);
  writeSync(fd, gpt.backup, 0, gpt.backup.length, gpt.backupOffsetBytes);
  writeSync(fd, Buffer.alloc(64 * 1024, 0xa5), 0, 64 * 1024, 64 * 512); // a boot blob after the GPT, as U-Boot at sector 64
  closeSync(fd);
  sh('mkfs.fat', ['-F', '16', '-n', 'ESP', '-i', '12345678', '--invariant', '--offset=2048', image, String(((67583 - 2048 + 1) * 512) / 1024)]);
  sh('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-L', 'root', '-U', 'clear', '-E', `offset=${rootFirst * 512},root_owner=0:0`, '-d', rootTree(join(dir, 'tree')), image,
    String(Math.floor(((rootLast - rootFirst + 1) * 512) / 4096))]);
  writeFileSync(`${image}.bmap`, (await digestImage(image, sectors * 512, [{ offset: 0, length: 34 * 512 }, { offset: gpt.backupOffsetBytes, length: gpt.backup.length }])).bmap);
  return { image, sectors };
}

export interface FakeDisk {
  readonly name: string;
  readonly dev: string;
  readonly sectors: number;
  readonly removable?: boolean;
  readonly readOnly?: boolean;
  readonly logicalBlockSize?: number;
  readonly model?: string;
  readonly serial?: string;
  readonly partitions?: readonly { readonly name: string; readonly dev: string; readonly start: number; readonly sectors: number; readonly holders?: readonly string[] }[];
  readonly holders?: readonly string[];
}

/** A root folder with sys/ and proc/ as a kernel shows them: /sys/class/block and /sys/dev/block links into /sys/devices. */
export function fakeHost(root: string, disks: readonly FakeDisk[], extra: { mountinfo?: string; swaps?: string; dm?: readonly { name: string; dev: string; dmName: string }[] } = {}): string {
  const devices = join(root, 'sys/devices/virtual/block');
  const put = (dir: string, files: Record<string, string>): void => {
    mkdirSync(dir, { recursive: true });
    for (const [f, v] of Object.entries(files)) { mkdirSync(join(dir, f, '..'), { recursive: true }); writeFileSync(join(dir, f), `${v}\n`); }
  };
  const link = (target: string, name: string, dev: string): void => {
    mkdirSync(join(root, 'sys/class/block'), { recursive: true });
    mkdirSync(join(root, 'sys/dev/block'), { recursive: true });
    symlinkSync(target, join(root, 'sys/class/block', name));
    symlinkSync(target, join(root, 'sys/dev/block', dev));
  };
  for (const d of disks) {
    const dir = join(devices, d.name);
    put(dir, { size: String(d.sectors), dev: d.dev, removable: d.removable ? '1' : '0', ro: d.readOnly ? '1' : '0', 'queue/logical_block_size': String(d.logicalBlockSize ?? 512),
      ...(d.model ? { 'device/model': d.model } : {}), ...(d.serial ? { 'device/serial': d.serial } : {}) });
    mkdirSync(join(dir, 'holders'), { recursive: true });
    for (const h of d.holders ?? []) symlinkSync(`../../${h}`, join(dir, 'holders', h));
    link(dir, d.name, d.dev);
    (d.partitions ?? []).forEach((p, i) => {
      const pdir = join(dir, p.name);
      put(pdir, { size: String(p.sectors), start: String(p.start), dev: p.dev, partition: String(i + 1) });
      mkdirSync(join(pdir, 'holders'), { recursive: true });
      for (const h of p.holders ?? []) symlinkSync(`../../../${h}`, join(pdir, 'holders', h));
      link(pdir, p.name, p.dev);
    });
  }
  for (const m of extra.dm ?? []) {
    const dir = join(devices, m.name);
    put(dir, { size: '2048', dev: m.dev, 'dm/name': m.dmName });
    mkdirSync(join(dir, 'holders'), { recursive: true });
    link(dir, m.name, m.dev);
  }
  put(join(root, 'proc/self'), { mountinfo: extra.mountinfo ?? '22 27 0:21 / /proc rw,relatime - proc proc rw' });
  put(join(root, 'proc'), { swaps: `Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority${extra.swaps ? `\n${extra.swaps}` : ''}` });
  return root;
}
