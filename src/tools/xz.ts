import type { Readable } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import { imgforgeError } from '../errors/error.ts';
import { TOOLS } from './run.ts';

const missing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

/** xz -dc as a stream, for decompressing a base without buffering it. */
export function xzDecompress(source: string): { stdout: Readable; done: ResultPromise; kill(): void } {
  const child = execa(TOOLS.xz.command, ['-dc', '--', source], { buffer: false, stdout: 'pipe', stderr: 'pipe' });
  child.catch(() => undefined); // awaited by the caller through `done`
  return {
    stdout: child.stdout!,
    done: child,
    kill: () => child.kill(),
  };
}

/** xz -T0 -c src > dest: the compressed copy of an image. */
export async function xzCompress(src: string, dest: string): Promise<void> {
  await execa(TOOLS.xz.command, ['-T0', '-c', '--', src], { stdout: { file: dest }, buffer: false }).catch((e: unknown) => {
    if (missing(e)) throw imgforgeError('ToolMissing', { tool: TOOLS.xz.command, pkg: TOOLS.xz.pkg });
    throw imgforgeError('ToolFailed', { tool: 'xz', status: 'failed', stderr: (e as Error).message.split('\n')[0]! });
  });
}
