// The seed's bootstrap and the bundle's installer, run for real as cloud-init runs them (sh -c
// with the arguments user-data gives): a verified bundle is installed file for file and the
// stages started; an intact install is left alone; a bundle that does not verify, or whose
// node.json fails its schema, installs nothing and runs no stage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, statSync, truncateSync, writeFileSync, readlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadCluster } from '../../src/config/index.ts';
import { packBundle, type Bundle } from '../../src/plan/bundle.ts';
import { planCluster } from '../../src/plan/index.ts';
import { loadRuntime } from '../../src/render/runtime.ts';
import { loadTemplates } from '../../src/render/templates.ts';
import { loadPackageSources } from '../../src/plan/packages.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { Rig } from './rig.ts';

const cluster = await loadCluster(join(ROOT, 'test/fixtures/qemu.config.mjs'));
const inputs = { templates: await loadTemplates(), runtime: await loadRuntime(), packages: await loadPackageSources(), version: 'test' };
const { seeds, bundles } = await planCluster(cluster, ['vm1'], inputs);
const bundle = bundles.get('vm1')!;
const userData = seeds.get('vm1')!.find((f) => f.name === 'user-data')!.content as string;
/** The bootcmd item: sh -c SCRIPT imgforge-bundle SHA256 BYTES SOURCE... */
const item = (parseYaml(userData) as { bootcmd: string[][] }).bootcmd[0]!;

function cidata(tar: Buffer): string {
  const dir = tempDir('imgforge-cidata-');
  writeFileSync(join(dir, 'imgforge-bundle.tar'), tar);
  return dir;
}

/** Run the bootstrap with ARGS ($0 and on: imgforge-bundle SHA256 BYTES SOURCE...). */
function boot(rig: Rig, args: readonly string[] = item.slice(3), tar: Buffer = bundle.tar, env: Record<string, string> = {}) {
  return rig.run(['sh', '-c', item[2]!, ...args], { FAKE_CIDATA: cidata(tar), FAKE_HOSTNAME: 'vm1', ...env });
}

test('user-data runs the bootstrap with the bundle\'s digest, size and source', () => {
  assert.deepEqual(item.slice(0, 2), ['sh', '-c']);
  assert.deepEqual(item.slice(3), ['imgforge-bundle', bundle.sha256, String(bundle.tar.length), 'cidata']);
});

test('first boot: the bundle from CIDATA is verified and installed file for file, then the stages start', () => {
  const rig = new Rig();
  const r = boot(rig);
  assert.equal(r.status, 0, r.stderr);
  for (const f of bundle.files) {
    const path = rig.path(f.path.slice(1));
    if (f.symlink) assert.equal(readlinkSync(path), f.content, f.path);
    else {
      assert.equal(rig.read(f.path.slice(1)), f.content, f.path);
      assert.equal(statSync(path).mode & 0o777, f.mode, `${f.path} mode`);
    }
  }
  assert.equal(rig.read('var/lib/imgforge/bundle.sha256'), `${bundle.sha256}\n`);
  assert.match(rig.read('var/lib/imgforge/node.env'), /^IMGFORGE_NODE_HOSTNAME='vm1'$/m);
  assert.equal(statSync(rig.path('var/lib/imgforge/node.env')).mode & 0o777, 0o600);
  assert.deepEqual(rig.calls('systemd-run')[0]!.slice(1, 5), ['--no-block', '--collect', '--quiet', '--unit=imgforge-install']);
  assert.deepEqual(rig.calls('systemctl').map((c) => c.slice(1).join(' ')), ['daemon-reload', 'start --no-block imgforge.target']);
  const ev = rig.events();
  assert.deepEqual(ev.map((e) => [e.stage, e.state]), [['bundle', 'ok']]);
  assert.equal(ev[0]!.msg, `installed bundle ${bundle.sha256.slice(0, 12)} (${bundle.files.length} files)`);
  assert.ok(!existsSync(rig.path('run/imgforge/installing')) && !existsSync(rig.path('run/imgforge/staging')));
  assert.deepEqual(rig.calls('umount').length, 1, 'CIDATA is unmounted again');
});

test('later boots: an intact install is left alone; a damaged one is installed again', () => {
  const rig = new Rig();
  assert.equal(boot(rig).status, 0);
  rig.clearCalls();
  assert.equal(boot(rig).status, 0);
  assert.deepEqual(rig.calls().map((c) => c[0]), [], 'nothing mounted, nothing started: systemd starts the stages itself');
  truncateSync(rig.path('usr/local/lib/imgforge/run-stage'), 10);
  assert.equal(boot(rig).status, 0);
  assert.equal(rig.read('usr/local/lib/imgforge/run-stage'), bundle.files.find((f) => f.path.endsWith('/run-stage'))!.content);
  assert.equal(rig.calls('systemd-run').length, 1);
});

test('a power cut at any step of the first boot\'s install: the next boot installs it whole', () => {
  const clean = new Rig();
  assert.equal(boot(clean).status, 0);
  const steps = clean.calls().length;
  for (let cut = 1; cut <= steps; cut++) {
    const rig = new Rig();
    assert.ok(boot(rig, item.slice(3), bundle.tar, { FAKE_CUT: String(cut) }).cut, `cut at step ${cut}`);
    rig.run(['rm', '-rf', rig.path('run/imgforge')]); // /run is empty after a reboot
    assert.equal(boot(rig).status, 0, `after a cut at step ${cut}`);
    for (const f of bundle.files.filter((x) => !x.symlink)) assert.equal(rig.read(f.path.slice(1)), f.content, `after a cut at step ${cut}: ${f.path}`);
    // Cut after the marker was synced, the install is whole and systemd starts the stages at boot by itself.
    assert.equal(rig.read('var/lib/imgforge/bundle.sha256'), `${bundle.sha256}\n`);
    assert.match(rig.read('var/lib/imgforge/node.env'), /^IMGFORGE_NODE_HOSTNAME='vm1'$/m);
  }
});

test('an operator\'s edit of a config file survives later boots', () => {
  const rig = new Rig();
  assert.equal(boot(rig).status, 0);
  rig.write('etc/hosts', '127.0.0.1 localhost\n10.0.2.50 nas\n');
  assert.equal(boot(rig).status, 0);
  assert.equal(rig.read('etc/hosts'), '127.0.0.1 localhost\n10.0.2.50 nas\n');
});

test('a bundle whose digest differs is refused with the numbers; a truncated one says so; nothing is installed or run', () => {
  for (const [what, tar, expect] of [
    ['altered', Buffer.from(bundle.tar).fill(0x41, 600, 601), new RegExp(`refused the bundle from cidata: ${bundle.tar.length} bytes with SHA-256 [0-9a-f]{64}; the seed pins ${bundle.tar.length} bytes with SHA-256 ${bundle.sha256}$`)],
    ['truncated', bundle.tar.subarray(0, 4096), /4096 bytes with SHA-256 [0-9a-f]{64} \(truncated\); the seed pins/],
  ] as const) {
    const rig = new Rig();
    const r = boot(rig, item.slice(3), tar);
    assert.equal(r.status, 1, what);
    const ev = rig.events();
    assert.deepEqual(ev.map((e) => [e.stage, e.state]), [['bundle', 'fail']], what);
    assert.match(ev[0]!.msg!, expect, what);
    assert.ok(!existsSync(rig.path('usr/local/lib/imgforge')) && !existsSync(rig.path('etc/hosts')), `${what}: nothing installed`);
    assert.deepEqual(rig.calls('systemd-run'), []);
    assert.match(rig.read('run/imgforge/refused'), /could not be had/);
  }
});

test('a bundle whose node.json fails its schema installs nothing and says which field', async () => {
  const files = bundle.files.map((f) => (f.path === '/etc/imgforge/node.json' ? { ...f, content: f.content.replace('"kind": "sectors"', '"kind": "plenty"') } : f));
  const bad: Bundle = await packBundle(inputs.runtime, files);
  const rig = new Rig();
  const r = boot(rig, ['imgforge-bundle', bad.sha256, String(bad.tar.length), 'cidata'], bad.tar);
  assert.equal(r.status, 0, 'the bootstrap verified it and handed it over');
  const ev = rig.events().at(-1)!;
  assert.deepEqual([ev.stage, ev.state], ['bundle', 'fail']);
  assert.match(ev.msg!, /^not installed: node\.json: layout\.root\.size\.kind: 'plenty' is not one of \['sectors', 'basisPoints', 'rest'\]/);
  assert.ok(!existsSync(rig.path('etc/hosts')) && !existsSync(rig.path('var/lib/imgforge/bundle.sha256')));
  assert.deepEqual(rig.calls('systemctl'), []);
  assert.match(rig.read('run/imgforge/refused'), /node\.json/);
});

test('a bundle fetched by URL (a seed server, or a stock cloud image driven by a seed alone); a failing source falls through to the next', async () => {
  // A server in a process of its own: the rig runs the bootstrap synchronously.
  const dir = tempDir('imgforge-www-');
  mkdirSync(join(dir, 'nodes/vm1'), { recursive: true });
  writeFileSync(join(dir, 'nodes/vm1/imgforge-bundle.tar'), bundle.tar);
  const server = spawn('python3', ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const port = await new Promise<string>((resolve) => server.stdout.on('data', (d: Buffer) => { const m = /port (\d+)/.exec(d.toString()); if (m) resolve(m[1]!); }));
    const rig = new Rig();
    const url = `http://127.0.0.1:${port}`;
    const r = boot(rig, ['imgforge-bundle', bundle.sha256, String(bundle.tar.length), `${url}/missing.tar`, `${url}/nodes/vm1/imgforge-bundle.tar`], bundle.tar, { FAKE_CIDATA: '' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(rig.events().map((e) => [e.state, e.msg]), [
      ['fail', `no bundle from ${url}/missing.tar: the download failed`], ['ok', `installed bundle ${bundle.sha256.slice(0, 12)} (${bundle.files.length} files)`]]);
    assert.deepEqual(rig.calls('mount'), []);
    // cloud-init read this seed from CIDATA (no record of NoCloudNet): its network-config is applied already.
    assert.deepEqual(rig.calls('netplan'), []);
  } finally {
    server.kill();
  }
});

test('no CIDATA and no other source: a fail event, the stages refused', () => {
  const rig = new Rig();
  mkdirSync(rig.path('run'), { recursive: true });
  const r = rig.run(['sh', '-c', item[2]!, ...item.slice(3)], { FAKE_CIDATA: '' });
  assert.equal(r.status, 1);
  assert.equal(rig.events()[0]!.msg, 'no bundle from cidata: no file system labelled CIDATA');
});
