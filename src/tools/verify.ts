import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { imgforgeError } from '../errors/error.ts';
import { run, TOOLS } from './run.ts';

/** sgdisk -v: GPT headers, CRCs, overlaps and the backup's place; throws unless it finds no problems. */
export async function sgdiskVerify(image: string): Promise<string> {
  const { stdout } = await run(TOOLS.sgdisk, ['-v', image], { env: { LC_ALL: 'C' } });
  if (!/No problems found/.test(stdout)) throw imgforgeError('ImageInvalid', { path: image, check: 'sgdisk -v', detail: stdout.trim().split('\n').slice(-4).join(' | ') });
  return stdout;
}

/** fsck.fat -n on a FAT file system inside an image (fsck.fat has no offset option, so a copy is checked). */
export async function fsckFatAt(image: string, offsetBytes: number, sizeBytes: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'imgforge-fat-'));
  const part = join(dir, 'fat.img');
  try {
    const src = await open(image, 'r');
    const dst = await open(part, 'w');
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (let pos = 0; pos < sizeBytes; pos += buf.length) {
        const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, sizeBytes - pos), offsetBytes + pos);
        await dst.write(buf, 0, bytesRead, pos);
      }
    } finally {
      await src.close();
      await dst.close();
    }
    await run(TOOLS.fsckFat, ['-n', part], { env: { LC_ALL: 'C' } });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

