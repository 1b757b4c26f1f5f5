import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { main } from '../src/cli/main.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

// Checks judge end-of-life dates against today; tests pin the day so their results never drift.
process.env['SOURCE_DATE_EPOCH'] ??= '1795478400'; // 2026-11-24

// The examples' secrets are fixed (test/fixtures/secrets), so their goldens are; other clusters'
// are made on first use. A private copy per test process: git keeps no 0600 modes.
if (!process.env['IMGFORGE_SECRETS_DIR']) {
  const dir = mkdtempSync(join(tmpdir(), 'imgforge-secrets-'));
  for (const f of readdirSync(join(ROOT, 'test/fixtures/secrets')).filter((n) => n.endsWith('.yaml'))) {
    copyFileSync(join(ROOT, 'test/fixtures/secrets', f), join(dir, f));
    chmodSync(join(dir, f), 0o600);
  }
  process.env['IMGFORGE_SECRETS_DIR'] = dir;
}

/** The bundled example and every config in examples/: each must check, plan and render cleanly. */
export const EXAMPLES: readonly (readonly [string, string])[] = [
  ['homelab', 'images.config.ts'],
  ['k8scp-haproxy-calico', 'examples/k8scp-haproxy-calico.config.ts'],
  ['metallb-bgp-longhorn', 'examples/metallb-bgp-longhorn.config.ts'],
  ['external-etcd', 'examples/external-etcd.config.ts'],
];

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the CLI in this process with captured output (fast; configs load by native import()). */
export async function cli(args: readonly string[]): Promise<CliResult> {
  let stdout = '', stderr = '';
  const code = await main(args, { out: (t) => { stdout += t; }, err: (t) => { stderr += t; } });
  return { code, stdout, stderr };
}

/** Run the CLI as a separate process, as users do: real exit codes, real stdout. */
export function cliProcess(args: readonly string[], cwd = ROOT): CliResult {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/imgforge.js'), ...args], { cwd, encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '1795478400' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(prefix = 'imgforge-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Every file below dir, relative, sorted. */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

/**
 * Compare text with a committed golden file; UPDATE_GOLDEN=1 rewrites it instead
 * (review the diff before committing).
 */
export function golden(relPath: string, actual: string): void {
  const file = join(ROOT, 'test/golden', relPath);
  if (process.env['UPDATE_GOLDEN'] === '1') {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `golden file ${relPath} is missing; run with UPDATE_GOLDEN=1 to create it`);
  assert.equal(actual, readFileSync(file, 'utf8'), `output differs from test/golden/${relPath}; run with UPDATE_GOLDEN=1 if the change is intended`);
}

/** Is a host tool on PATH? Tests needing it fail under CI=true and skip locally when absent. */
export function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

export function requireTool(name: string): boolean {
  if (hasTool(name)) return true;
  if (process.env['CI']) throw new Error(`${name} is not installed; .ci/run installs it`);
  return false;
}
