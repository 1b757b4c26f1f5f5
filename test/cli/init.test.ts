// imgforge init: a starter config for the boards named that checks cleanly with the user's key,
// the secrets' .gitignore, and no overwrite without --force.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, ROOT, tempDir } from '../helpers.ts';

/** A folder inside this package, so the starter's `import ... from 'imgforge'` resolves (a package may import itself by name). */
const projectDir = (): string => {
  mkdirSync(join(ROOT, '.cache'), { recursive: true });
  return mkdtempSync(join(ROOT, '.cache', 'init-test-'));
};

async function withHome<T>(home: string, f: () => Promise<T>): Promise<T> {
  const old = process.env['HOME'];
  process.env['HOME'] = home;
  try { return await f(); } finally { process.env['HOME'] = old; }
}

test('init writes a starter for the boards named, with the user\'s SSH key, that check and plan accept; .imgforge/.gitignore keeps the secrets out of git', async () => {
  const home = tempDir('imgforge-home-');
  mkdirSync(join(home, '.ssh'));
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIInitTestKeyInitTestKeyInitTestKeyInitTestK0 me@bob's laptop";
  writeFileSync(join(home, '.ssh/id_ed25519.pub'), `${key}\n`);
  const dir = projectDir();
  const config = join(dir, 'images.config.ts');
  const r = await withHome(home, () => cli(['--config', config, 'init', 'x86', 'x86', 'x86', 'thin-client']));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /wrote .*images\.config\.ts \(4 nodes: x86, x86, x86, thin-client\)\nnext: imgforge check\n/);
  const text = readFileSync(config, 'utf8');
  assert.ok(text.includes(`'${key.replace("'", "\\'")}'`), 'the key, its quote escaped');
  assert.match(text, /hostname: 'cp03', board: 'x86', role: 'control-plane'/);
  assert.match(text, /hostname: 'worker01', board: 'thin-client', role: 'worker'/);
  assert.equal(readFileSync(join(dir, '.imgforge/.gitignore'), 'utf8').trim().split('\n').at(-1), 'secrets/');
  const check = await cli(['--config', config, 'check', '--json']);
  assert.equal(check.code, 0, check.stdout);
  assert.deepEqual(JSON.parse(check.stdout).findings.filter((f: { severity: string }) => f.severity === 'error'), []);
  const plan = await cli(['--config', config, 'plan', '--json']);
  assert.equal(plan.code, 0, plan.stderr);
  assert.deepEqual(JSON.parse(plan.stdout).nodes.map((n: { hostname: string }) => n.hostname), ['cp01', 'cp02', 'cp03', 'worker01']);
  rmSync(dir, { recursive: true });
});

test('init refuses to replace a config without --force; an unknown board is named; without a key the config says where to put one', async () => {
  const dir = projectDir();
  const config = join(dir, 'images.config.ts');
  writeFileSync(config, '// mine\n');
  const refused = await cli(['--config', config, 'init']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /images\.config\.ts exists; imgforge init will not replace it\./);
  assert.equal(readFileSync(config, 'utf8'), '// mine\n');
  const unknown = await cli(['--config', config, 'init', '--force', 'odroid-m3']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /There is no board profile named "odroid-m3"\./);
  assert.match(unknown.stderr, /Boards: .*odroid-m1/);
  assert.equal(readFileSync(config, 'utf8'), '// mine\n', 'nothing written');
  const home = tempDir('imgforge-home-');
  const forced = await withHome(home, () => cli(['--config', config, 'init', '--force']));
  assert.equal(forced.code, 0);
  assert.match(forced.stdout, /put your SSH public key in users\[0\]/);
  assert.ok(existsSync(join(dir, '.imgforge/.gitignore')));
  // A second file name: a config module is imported once per process.
  const copy = join(dir, 'second.config.ts');
  writeFileSync(copy, readFileSync(config, 'utf8'));
  const check = await cli(['--config', copy, 'check']);
  assert.equal(check.code, 2);
  assert.match(check.stderr, /users\[0\]\.sshAuthorizedKeys\[0\]/);
  rmSync(dir, { recursive: true });
});
