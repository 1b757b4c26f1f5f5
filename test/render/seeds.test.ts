import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { seedScript } from '../../src/plan/index.ts';
import { cli, EXAMPLES, golden, listFiles, requireTool, ROOT, tempDir } from '../helpers.ts';
import { cloudInitSchema, hasCloudInit25, systemCloudInitSchema } from '../validators.ts';


/** Plans print the image's table when the base is cached: the goldens are of plans without one. */
const EMPTY_CACHE = tempDir('imgforge-empty-cache-');
const SEED_FILES = ['imgforge-bundle.tar', 'imgforge-secrets.tar', 'meta-data', 'network-config', 'user-data', 'vendor-data'];
/** What a node's tree holds that is rendered for it (the static runtime is runtime/ itself; the
 *  secrets come from the test bundle and are checked by test/secrets, not by golden files). */
const RENDERED = /^tree\/etc\/(?!kubernetes\/pki\/|imgforge\/secrets\/)/;
/** Secret files in a node's secrets tar: only certificates and public keys may be readable by others. */
const PUBLIC = /\.(crt|pub)$/;

/** systemd's own unit parser on the rendered units, against the host's units (cloud-init's among them). */
function verifyUnits(tree: string): string {
  const root = tempDir('imgforge-units-');
  mkdirSync(join(root, 'lib/systemd'), { recursive: true });
  cpSync('/lib/systemd/system', join(root, 'lib/systemd/system'), { recursive: true });
  cpSync(tree, root, { recursive: true });
  const units = readdirSync(join(root, 'etc/systemd/system')).filter((u) => u.startsWith('imgforge')).map((u) => join(root, 'etc/systemd/system', u));
  const r = spawnSync('systemd-analyze', ['--root', root, 'verify', ...units], { encoding: 'utf8' });
  return `${r.status === 0 ? '' : `exit ${r.status}\n`}${r.stdout}${r.stderr}`;
}

for (const [name, config] of EXAMPLES) {
  describe(`example ${name}`, () => {
    const file = join(ROOT, config);

    test('plan --json matches its golden file', async () => {
      const r = await cli(['--config', file, 'plan', '--json', '--cache-dir', EMPTY_CACHE]);
      assert.equal(r.code, 0, r.stderr);
      golden(`${name}/plan.json`, r.stdout);
    });

    test('every node renders; cloud-init, shellcheck and systemd accept what it gets; the first node\'s matches its golden files', async () => {
      const plan = JSON.parse((await cli(['--config', file, 'plan', '--json', '--cache-dir', EMPTY_CACHE])).stdout) as {
        nodes: { hostname: string; seed: { files: { name: string; sha256: string }[] }; bundle: { sha256: string } }[];
      };
      const out = tempDir();
      const toValidate: { type: 'cloud-config' | 'network-config'; path: string }[] = [];
      for (const [i, node] of plan.nodes.entries()) {
        const dir = join(out, node.hostname);
        const r = await cli(['--config', file, 'render', node.hostname, '--out', dir]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(listFiles(dir).filter((f) => !f.startsWith('tree/')), ['.imgforge', ...SEED_FILES]);
        assert.ok(listFiles(dir).includes('tree/etc/imgforge/node.json'));
        assert.equal(statSync(join(dir, 'user-data')).mode & 0o777, 0o600, 'seeds will carry secrets: 0600');
        const tar = spawnSync('tar', ['-tvf', join(dir, 'imgforge-bundle.tar')], { encoding: 'utf8' });
        assert.equal(tar.status, 0, tar.stderr);
        const secrets = spawnSync('tar', ['-tvf', join(dir, 'imgforge-secrets.tar')], { encoding: 'utf8' });
        assert.equal(secrets.status, 0, secrets.stderr);
        const secretLines = secrets.stdout.trim().split('\n');
        assert.equal(tar.stdout.trim().split('\n').length + secretLines.length, listFiles(join(dir, 'tree')).length + 1,
          'the bundle and the secrets tar hold the tree (the wants/ symlink is not a file)');
        for (const line of secretLines) {
          const path = line.split(/\s+/).at(-1)!;
          assert.equal(line.slice(0, 10), PUBLIC.test(path) ? '-rw-r--r--' : '-rw-------', line);
          assert.equal(statSync(join(dir, 'tree', path)).mode & 0o777, PUBLIC.test(path) ? 0o644 : 0o600, path);
        }
        assert.ok(!readFileSync(join(dir, 'imgforge-bundle.tar')).includes('PRIVATE KEY'), 'no key in the bundle: it may be served to anyone');
        assert.ok(readFileSync(join(dir, 'user-data'), 'utf8').includes(node.bundle.sha256), 'user-data pins the bundle');
        if (i === 0) {
          for (const f of [...SEED_FILES.filter((s) => !s.endsWith('.tar')), ...listFiles(dir).filter((f) => RENDERED.test(f))]) {
            golden(`${name}/${node.hostname}/${f}`, readFileSync(join(dir, f), 'utf8'));
          }
        }
        toValidate.push({ type: 'cloud-config', path: join(dir, 'user-data') }, { type: 'cloud-config', path: join(dir, 'vendor-data') },
          { type: 'network-config', path: join(dir, 'network-config') });
        if (requireTool('systemd-analyze')) assert.equal(verifyUnits(join(dir, 'tree')), '', `${node.hostname}: systemd-analyze verify`);
        // The script user-data runs: the bootstrap, exactly as it reaches sh.
        const bootstrap = (parseYaml(readFileSync(join(dir, 'user-data'), 'utf8')) as { bootcmd: string[][] }).bootcmd[0]![2]!;
        assert.equal(bootstrap, seedScript(readFileSync(join(ROOT, 'runtime/bootstrap.sh'), 'utf8')));
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
    });
  });
}

test('every script a node runs passes shellcheck as it is in the repository', () => {
  if (!requireTool('shellcheck')) return;
  const python = (f: string) => readFileSync(join(ROOT, 'runtime', f), 'utf8').startsWith('#!/usr/bin/python3');
  const scripts = listFiles(join(ROOT, 'runtime')).filter((f) => !/\.(awk|json|service)$/.test(f) && !python(f) && !f.includes('/conf/'));
  assert.ok(scripts.length >= 9, scripts.join(' '));
  for (const s of scripts) {
    const r = spawnSync('shellcheck', ['--shell=sh', '--severity=style', '-x', join(ROOT, 'runtime', s)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${s}:\n${r.stdout}`);
  }
  // Parsed, not compiled: py_compile would leave a __pycache__ in runtime/.
  const pythons = listFiles(join(ROOT, 'runtime')).filter(python);
  assert.deepEqual(pythons, ['usr/local/bin/imgforge-status', 'usr/local/lib/imgforge/node-env']);
  for (const f of pythons) {
    const py = spawnSync('python3', ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])', join(ROOT, 'runtime', f)], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
  }
  const awk = spawnSync('awk', ['-f', join(ROOT, 'runtime/usr/local/lib/imgforge/event.awk')], { encoding: 'utf8', input: '' });
  assert.equal(awk.status, 0, awk.stderr);
});

test('render --bundle-url: the node fetches its bundle from the URL; anything but http(s) is refused', async () => {
  const out = tempDir();
  const r = await cli(['--config', join(ROOT, 'test/fixtures/qemu.config.mjs'), 'render', 'vm1', '--out', out, '--bundle-url', 'http://seed.lan:8080/n/vm1/imgforge-bundle.tar']);
  assert.equal(r.code, 0, r.stderr);
  const item = (parseYaml(readFileSync(join(out, 'user-data'), 'utf8')) as { bootcmd: string[][] }).bootcmd[0]!;
  assert.deepEqual(item.slice(6), ['http://seed.lan:8080/n/vm1/imgforge-bundle.tar']);
  const bad = await cli(['--config', join(ROOT, 'test/fixtures/qemu.config.mjs'), 'render', 'vm1', '--out', tempDir(), '--bundle-url', 'ftp://x/y']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /takes an http:\/\/ or https:\/\/ URL, not "ftp:\/\/x\/y"/);
});

test('user-data stays small: cloud-init delivers data, the bundle carries the rest; growpart and resizefs are off', async () => {
  const out = tempDir();
  assert.equal((await cli(['render', 'cp01', '--out', out])).code, 0);
  const text = readFileSync(join(out, 'user-data'), 'utf8');
  assert.ok(Buffer.byteLength(text) < 8 * 1024, `user-data is ${Buffer.byteLength(text)} bytes`);
  const ud = parseYaml(text) as Record<string, unknown>;
  assert.deepEqual(ud['growpart'], { mode: 'off' });
  assert.equal(ud['resize_rootfs'], false);
  assert.equal(ud['runcmd'], undefined);
  assert.equal(ud['write_files'], undefined);
  assert.equal((ud['bootcmd'] as unknown[]).length, 1);
  writeFileSync(join(out, 'x'), '');
});
