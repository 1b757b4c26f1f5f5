import { extract } from 'tar-stream';

export interface TarEntry {
  readonly name: string;
  readonly mode: number;
  readonly content: Buffer;
}

/** The regular files of a tar archive held in memory (a seed's bundle or secrets: kilobytes). */
export async function readTar(archive: Buffer): Promise<TarEntry[]> {
  const x = extract();
  const out: TarEntry[] = [];
  const done = new Promise<void>((resolve, reject) => {
    x.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file') out.push({ name: header.name, mode: (header.mode ?? 0) & 0o7777, content: Buffer.concat(chunks) });
        next();
      });
      stream.resume();
    });
    x.on('finish', resolve);
    x.on('error', reject);
  });
  x.end(archive);
  await done;
  return out;
}
