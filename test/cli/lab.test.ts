// The lab's refusals, before anything boots: a config check fails, QEMU is missing, no lab is up.
// (The lab booting, its LAN, kill, start, ssh and down are proven in test/vm/lab.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, ROOT, tempDir } from '../helpers.ts';

/** The boot tests' fixture, in a folder of its own (the lab folder goes beside the config). */
function config(patch = ''): { dir: string; file: string } {
  const dir = tempDir();
  const file = join(dir, 'images.config.mjs');
  writeFileSync(file, `import base from ${JSON.stringify(join(ROOT, 'test/fixtures/qemu.config.mjs'))};\nconst c = { ...base };\n${patch}\nexport default c;\n`);
  return { dir, file };
}

test('lab up on a config whose check fails: exit 1 with the findings, nothing built or booted', async () => {
  // A control plane on DHCP cannot be the API's stable address: check refuses it when nodes self-assemble.
  const { dir, file } = config("c.nodes = c.nodes.map((n) => n.hostname === 'vm1' ? { ...n, address: 'dhcp' } : n);");
  const r = await cli(['--config', file, 'lab', 'up', '--offline']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /control-plane-dhcp/);
  assert.equal(existsSync(join(dir, '.imgforge', 'lab')), false, 'no lab folder');
});

test('lab up without QEMU: exit 4 naming the Debian package, nothing built', () => {
  const { dir, file } = config();
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/imgforge.js'), '--config', file, 'lab', 'up', '--offline'], { encoding: 'utf8', env: { ...process.env, PATH: join(dir, 'empty') } });
  assert.equal(r.status, 4, r.stderr);
  assert.match(r.stderr, /qemu-system-x86_64.*\n?.*qemu-system-x86/);
  assert.equal(existsSync(join(dir, '.imgforge', 'lab')), false);
});

test('status, kill, start, ssh and down with no lab up: exit 2, naming the lab folder', async () => {
  const { dir, file } = config();
  for (const args of [['status'], ['kill', 'vm1'], ['start', 'vm1'], ['ssh', 'vm1', '--', 'true'], ['down']]) {
    const r = await cli(['--config', file, 'lab', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`No lab is up in ${join(dir, '.imgforge', 'lab').replaceAll('.', '\\.')}`));
  }
  const other = await cli(['--config', file, 'lab', 'status', '--dir', join(dir, 'elsewhere'), '--json']);
  assert.equal(other.code, 2);
  assert.equal((JSON.parse(other.stdout) as { error: { code: string } }).error.code, 'NoLab');
});

test('lab up refuses a second lab in the same folder while the first runs', async () => {
  // A lab whose router is this very process stands in for a running one (alive() checks pid and working folder).
  const { dir, file } = config();
  const lab = join(dir, '.imgforge', 'lab');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(lab, { recursive: true });
  const cwd = process.cwd();
  process.chdir(lab);
  try {
    writeFileSync(join(lab, 'lab.json'), JSON.stringify({ config: file, plan: { nodes: [] }, images: {}, pids: { switch: process.pid, router: process.pid, nodes: { vm1: process.pid } } }));
    const r = await cli(['--config', file, 'lab', 'up', '--offline']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /A lab is up in .* \(running: vm1\)/);
    // The same lab through a symbolic link to its folder is the same running lab (lab down must find its processes).
    const { symlinkSync } = await import('node:fs');
    symlinkSync(lab, join(dir, 'lab-link'));
    const linked = await cli(['--config', file, 'lab', 'up', '--offline', '--dir', join(dir, 'lab-link')]);
    assert.equal(linked.code, 2, linked.stderr);
    assert.match(linked.stderr, /\(running: vm1\)/);
  } finally {
    process.chdir(cwd);
  }
});

test('lab up --source: a folder without packages.yaml, or with one that is not valid, is a bad flag naming it; nothing booted', async () => {
  const { dir, file } = config();
  const source = join(dir, 'source');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(source);
  const none = await cli(['--config', file, 'lab', 'up', '--offline', '--source', source]);
  assert.equal(none.code, 2, none.stderr);
  assert.match(none.stderr, /--source .*source: no packages\.yaml there/);
  writeFileSync(join(source, 'packages.yaml'), 'kubernetes:\n  url: 42\n');
  const bad = await cli(['--config', file, 'lab', 'up', '--offline', '--source', source]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--source .*packages\.yaml: .*kubernetes/);
  assert.equal(existsSync(join(dir, '.imgforge', 'lab')), false, 'no lab folder');
});
