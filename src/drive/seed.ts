/**
 * The NoCloud seed on a CIDATA partition, read with mtools from an image file or a drive: each
 * file's size and SHA-256, the instance-id and the hostname. What `imgforge inspect` shows.
 */
import { createHash } from 'node:crypto';
import { mdir, mtype } from '../tools/fat.ts';

export const SEED_FILES = ['user-data', 'meta-data', 'network-config', 'vendor-data'];

export interface SeedOnDisk {
  readonly instanceId: string | null;
  readonly hostname: string | null;
  readonly files: readonly { readonly name: string; readonly bytes: number; readonly sha256: string }[];
  /** SHA-256 over the files' names and digests, in SEED_FILES order: one value to compare seeds by. */
  readonly sha256: string;
  readonly problems: readonly string[];
}

export async function readSeed(path: string, offsetBytes: number): Promise<SeedOnDisk> {
  const listing = await mdir(path, offsetBytes);
  const files: { name: string; bytes: number; sha256: string }[] = [];
  const problems: string[] = [];
  let instanceId: string | null = null, hostname: string | null = null;
  for (const name of SEED_FILES) {
    if (!new RegExp(`${name}$`, 'mi').test(listing)) { if (name === 'user-data' || name === 'meta-data') problems.push(`the seed lacks ${name}`); continue; }
    const text = await mtype(path, offsetBytes, name);
    files.push({ name, bytes: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') });
    if (name === 'meta-data') {
      instanceId = /instance-id:\s*"?([^"\n]+)"?/.exec(text)?.[1] ?? null;
      hostname = /local-hostname:\s*"?([^"\n]+)"?/.exec(text)?.[1] ?? null;
    }
  }
  const sha256 = createHash('sha256').update(files.map((f) => `${f.name} ${f.sha256}\n`).join('')).digest('hex');
  return { instanceId, hostname, files, sha256, problems };
}
