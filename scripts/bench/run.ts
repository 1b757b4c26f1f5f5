import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const allocated = (path: string): number => statSync(path).blocks * 512;

export interface Timed {
  readonly ms: number;
  readonly code: number;
  readonly stderr: string;
  /** stderr lines with the ms since spawn at which each arrived. */
  readonly lines: readonly { readonly at: number; readonly text: string }[];
}

export function timed(cmd: string, args: readonly string[], env: Record<string, string> = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_ALL: 'C', ...env } });
    let stderr = '', partial = '';
    const lines: { at: number; text: string }[] = [];
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      const at = performance.now() - start;
      stderr += d;
      const parts = (partial + d).split('\n');
      partial = parts.pop()!;
      for (const text of parts) lines.push({ at, text });
    });
    child.on('error', reject);
    child.on('close', (code) => { resolve({ ms: performance.now() - start, code: code ?? -1, stderr, lines }); });
  });
}

export interface HandRun {
  readonly ms: number;
  readonly steps: { readonly cp: number; readonly sha: number; readonly bmap: number };
  readonly allocated: number;
}

/** The by-hand variant: cp --sparse=always of the base, openssl dgst -sha256 of the copy, bmaptool create. */
export async function runByHand(base: string, work: string): Promise<HandRun> {
  const dir = join(work, 'by-hand');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const copy = join(dir, 'copy.img');
  const step = async (cmd: string, args: string[]): Promise<number> => {
    const r = await timed(cmd, args);
    if (r.code !== 0) throw new Error(`${cmd} exited ${r.code}:\n${r.stderr}`);
    return r.ms;
  };
  const cp = await step('cp', ['--sparse=always', base, copy]);
  const sha = await step('openssl', ['dgst', '-sha256', copy]);
  const bmap = await step('bmaptool', ['create', '-o', `${copy}.bmap`, copy]);
  const result = { ms: cp + sha + bmap, steps: { cp, sha, bmap }, allocated: allocated(copy) };
  rmSync(dir, { recursive: true, force: true });
  return result;
}

