// The package as users install it: `npm pack` builds the JavaScript and declarations (prepack),
// the tarball installs into a folder holding only a user's config, and the CLI and the config's
// `import { defineConfig } from 'imgforge'` work there, types included. The pack runs on a copy
// of the repository, so the working tree is never changed while other tests run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';

const run = (cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false', ...env } });

test('npm pack gives a package that installs and runs in a folder of its own, with JavaScript, declarations and the data it reads', { timeout: 300_000 }, () => {
  const copy = tempDir('imgforge-pack-src-');
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'bin', 'src', 'runtime', 'templates', 'profiles', 'data', 'schema', 'scripts']) {
    cpSync(join(ROOT, f), join(copy, f), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  const out = tempDir('imgforge-pack-out-');
  const packed = run('npm', ['pack', '--pack-destination', out, '--loglevel=error'], copy);
  assert.equal(packed.status, 0, packed.stderr);
  const tarball = join(out, readdirSync(out).find((f) => f.endsWith('.tgz'))!);
  // postpack put the manifest back and removed the build.
  assert.equal(readFileSync(join(copy, 'package.json'), 'utf8'), readFileSync(join(ROOT, 'package.json'), 'utf8'));
  assert.ok(!existsSync(join(copy, 'lib')));
  const list = run('tar', ['-tzf', tarball], out).stdout.split('\n');
  for (const f of ['package/lib/cli/main.js', 'package/lib/index.d.ts', 'package/runtime/usr/local/lib/imgforge/run-stage', 'package/data/packages.yaml', 'package/profiles/x86.yaml', 'package/templates/seed/user-data.njk']) {
    assert.ok(list.includes(f), f);
  }
  assert.ok(!list.some((f) => f.startsWith('package/src/') || f.startsWith('package/test/')), 'no sources or tests');

  const user = tempDir('imgforge-user-');
  writeFileSync(join(user, 'package.json'), '{ "name": "my-cluster", "private": true, "type": "module" }\n');
  writeFileSync(join(user, 'images.config.ts'), readFileSync(join(ROOT, 'images.config.ts'), 'utf8'));
  const installed = run('npm', ['i', '-D', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], user);
  assert.equal(installed.status, 0, installed.stderr);
  const bin = join(user, 'node_modules/.bin/imgforge');
  const check = run(process.execPath, [bin, 'check'], user);
  assert.equal(check.status, 0, check.stderr + check.stdout);
  assert.match(check.stdout, /ok: 6 nodes, 0 errors/);
  const plan = run(process.execPath, [bin, 'plan', 'cp01', '--json'], user);
  assert.equal(plan.status, 0, plan.stderr);
  assert.equal(JSON.parse(plan.stdout).nodes[0].hostname, 'cp01');
  const render = run(process.execPath, [bin, 'render', 'worker02', '--out', join(user, 'seed')], user);
  assert.equal(render.status, 0, render.stderr);
  assert.ok(existsSync(join(user, 'seed/user-data')) && existsSync(join(user, 'seed/imgforge-bundle.tar')));
  // A starter config made there checks too (its import resolves to the installed package).
  const home = tempDir('imgforge-home-');
  mkdirSync(join(home, '.ssh'));
  writeFileSync(join(home, '.ssh/id_ed25519.pub'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPackTestKeyPackTestKeyPackTestKeyPackTestK0 me@laptop\n');
  const init = run(process.execPath, [bin, '--config', 'starter.config.ts', 'init', 'x86', 'x86', 'x86'], user, { HOME: home });
  assert.equal(init.status, 0, init.stderr);
  const starter = run(process.execPath, [bin, '--config', 'starter.config.ts', 'check'], user);
  assert.equal(starter.status, 0, starter.stderr + starter.stdout);
  // The config's types come from the package's declarations: a typo is a type error.
  writeFileSync(join(user, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2024', strict: true, noEmit: true, types: [] }, files: ['images.config.ts'] }));
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  assert.equal(run(process.execPath, [tsc, '-p', '.'], user).status, 0);
  writeFileSync(join(user, 'images.config.ts'), readFileSync(join(user, 'images.config.ts'), 'utf8').replace("role: 'worker', etcd: true", "role: 'wroker', etcd: true"));
  const typo = run(process.execPath, [tsc, '-p', '.'], user);
  assert.notEqual(typo.status, 0);
  assert.match(typo.stdout, /"wroker"' is not assignable/);
});
