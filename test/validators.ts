import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.ts';

/** cloud-init 25.1's dist-packages, fetched by scripts/setup-validators.sh. */
const CLOUD_INIT_25 = process.env['IMGFORGE_CLOUD_INIT_DIR'] ?? join(ROOT, '.cache/cloud-init/usr/lib/python3/dist-packages');

export interface SchemaResult {
  readonly path: string;
  readonly type: string;
  readonly ok: boolean;
  readonly error: string | null;
}

export function hasCloudInit25(): boolean {
  if (existsSync(join(CLOUD_INIT_25, 'cloudinit'))) return true;
  if (process.env['CI']) throw new Error(`cloud-init 25.1 validator missing at ${CLOUD_INIT_25}; run scripts/setup-validators.sh`);
  return false;
}

/** cloud-init 25.1's own schema validation, the strict one (unknown keys are errors). */
export function cloudInitSchema(files: readonly { type: 'cloud-config' | 'network-config'; path: string }[]): SchemaResult[] {
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'test/validate_cloud_init.py'), ...files.map((f) => `${f.type}:${f.path}`)], {
    encoding: 'utf8', env: { ...process.env, PYTHONPATH: CLOUD_INIT_25 },
  });
  if (r.status !== 0) throw new Error(`validator failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as SchemaResult);
}

/** The host's packaged cloud-init (Debian bookworm: 22.4), `cloud-init schema --config-file`. */
export function systemCloudInitSchema(path: string): { ok: boolean; output: string } {
  const r = spawnSync('cloud-init', ['schema', '--config-file', path], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
