import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { cli, golden, listFiles, requireTool, ROOT, tempDir } from '../helpers.ts';
import { cloudInitSchema, hasCloudInit25, shellcheck, systemCloudInitSchema } from '../validators.ts';

/** The bundled example and every config in examples/: each must check, plan and render cleanly. */
export const EXAMPLES: readonly (readonly [string, string])[] = [
  ['homelab', 'images.config.ts'],
  ['k8scp-haproxy-calico', 'examples/k8scp-haproxy-calico.config.ts'],
  ['metallb-bgp-longhorn', 'examples/metallb-bgp-longhorn.config.ts'],
  ['external-etcd', 'examples/external-etcd.config.ts'],
];

const SEED_FILES = ['meta-data', 'network-config', 'user-data', 'vendor-data'];
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * Every shell script a user-data carries: the inline bootcmd stages (a string item carries its
 * script as a here-document), and the scripts the "files" stage writes, found by running it
 * under a scratch root.
 */
function scriptsOf(userData: string): { name: string; text: string }[] {
  const doc = parseYaml(userData) as { bootcmd: (string | string[])[] };
  const inline = doc.bootcmd.map((cmd) => (typeof cmd === 'string'
    ? { name: cmd.split(' ')[2]!, text: cmd.slice(cmd.indexOf('\n') + 1, cmd.lastIndexOf('IMGFORGE_STAGE_END')) }
    : { name: cmd.at(-1)!, text: cmd.at(-2)! }));
  const root = tempDir();
  for (const cmd of doc.bootcmd.filter((c) => typeof c === 'string')) {
    const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', env: { PATH: process.env['PATH'], IMGFORGE_ROOT: root } });
    assert.equal(r.status, 0, r.stderr);
  }
  const written = listFiles(root).map((p) => ({ name: `/${p}`, text: readFileSync(join(root, p), 'utf8') })).filter((f) => f.text.startsWith('#!'));
  assert.ok(written.length >= 3, 'the files stage writes the stage runner, the report and the stage scripts');
  return [...inline, ...written];
}

for (const [name, config] of EXAMPLES) {
  describe(`example ${name}`, () => {
    const file = join(ROOT, config);

    test('plan --json matches its golden file', async () => {
      const r = await cli(['--config', file, 'plan', '--json']);
      assert.equal(r.code, 0, r.stderr);
      golden(`${name}/plan.json`, r.stdout);
    });

    test('every node renders; seeds match golden files, the plan digests, and cloud-init and shellcheck accept them', async () => {
      const plan = JSON.parse((await cli(['--config', file, 'plan', '--json'])).stdout) as {
        nodes: { hostname: string; seed: { files: { name: string; sha256: string }[] } }[];
      };
      const out = tempDir();
      const toValidate: { type: 'cloud-config' | 'network-config'; path: string }[] = [];
      const scripts: string[] = [];
      for (const node of plan.nodes) {
        const dir = join(out, node.hostname);
        const r = await cli(['--config', file, 'render', node.hostname, '--out', dir]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(listFiles(dir), ['.imgforge', ...SEED_FILES]);
        assert.equal(statSync(join(dir, 'user-data')).mode & 0o777, 0o600, 'seeds will carry secrets: 0600');
        for (const f of SEED_FILES) {
          const text = readFileSync(join(dir, f), 'utf8');
          golden(`${name}/${node.hostname}/${f}`, text);
          assert.equal(sha256(text), node.seed.files.find((s) => s.name === f)!.sha256, `${f} differs from the plan's digest`);
        }
        toValidate.push({ type: 'cloud-config', path: join(dir, 'user-data') }, { type: 'cloud-config', path: join(dir, 'vendor-data') },
          { type: 'network-config', path: join(dir, 'network-config') });
        for (const s of scriptsOf(readFileSync(join(dir, 'user-data'), 'utf8'))) {
          const path = join(dir, `script-${s.name.replace(/[^a-z0-9.-]+/gi, '_')}.sh`);
          writeFileSync(path, s.text);
          scripts.push(path);
        }
      }
      if (hasCloudInit25()) {
        for (const result of cloudInitSchema(toValidate)) assert.ok(result.ok, `${result.path}: ${result.error}`);
      }
      if (requireTool('cloud-init')) {
        for (const v of toValidate.filter((t) => t.path.endsWith('user-data'))) {
          const r = systemCloudInitSchema(v.path);
          assert.ok(r.ok, `${v.path}: ${r.output}`);
        }
      }
      if (requireTool('shellcheck')) {
        assert.ok(scripts.length >= plan.nodes.length * 3);
        for (const s of scripts) {
          const r = shellcheck(s);
          assert.ok(r.ok, `${s}:\n${r.output}`);
        }
      }
    });
  });
}
