import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * The hash for `name` in a SHA256SUMS file. Ubuntu writes "<hash> *<name>" (binary mode);
 * coreutils' default is "<hash>  <name>"; both are read.
 */
export function findSha256(sums: string, name: string): string | undefined {
  for (const line of sums.split('\n')) {
    const m = /^([0-9a-fA-F]{64}) [ *](.+?)\s*$/.exec(line);
    if (m && (m[2] === name || m[2] === `./${name}`)) return m[1]!.toLowerCase();
  }
  return undefined;
}
