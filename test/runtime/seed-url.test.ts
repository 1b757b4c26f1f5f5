// A generic image's seed-url program (runtime/generic/seed-url) against a scratch root: the files
// the plan puts into root (genericRootFiles), a fake /sys with network interfaces and SMBIOS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadRuntime } from '../../src/render/runtime.ts';
import { genericRootFiles, SEED_CA, type SeedMatch } from '../../src/plan/generic.ts';
import { tempDir } from '../helpers.ts';

const runtime = await loadRuntime();
const OUT = 'etc/cloud/cloud.cfg.d/99_imgforge-seed.cfg';

function scratch(match: SeedMatch, url = 'http://192.168.1.5:8080/', seedCa: string | null = null): string {
  const root = tempDir('imgforge-seed-url-');
  for (const f of genericRootFiles(runtime, { board: 'x86', seedUrl: url, match, seedCa }).files) {
    mkdirSync(dirname(join(root, f.path)), { recursive: true });
    writeFileSync(join(root, f.path), f.content, { mode: f.mode });
  }
  return root;
}

function nic(root: string, name: string, mac: string, opts: { device?: boolean; type?: number } = {}): void {
  const d = join(root, 'sys/class/net', name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'address'), `${mac}\n`);
  writeFileSync(join(d, 'type'), `${opts.type ?? 1}\n`);
  if (opts.device !== false) mkdirSync(join(d, 'device'));
}

function dmi(root: string, file: string, value: string): void {
  mkdirSync(join(root, 'sys/class/dmi/id'), { recursive: true });
  writeFileSync(join(root, 'sys/class/dmi/id', file), `${value}\n`);
}

const run = (root: string, env: Record<string, string> = {}) =>
  spawnSync('sh', [join(root, 'usr/local/lib/imgforge/seed-url')], { encoding: 'utf8', env: { ...process.env, IMGFORGE_ROOT: root, ...env } });

const seedfrom = (root: string): string => /seedfrom: (\S+)/.exec(readFileSync(join(root, OUT), 'utf8'))?.[1] ?? '';

test('by MAC: the first Ethernet interface with a device behind it, not lo or a bridge; cloud-init reads the result as YAML', () => {
  const root = scratch('mac');
  nic(root, 'br0', '02:00:00:00:00:01', { device: false });
  nic(root, 'enp0s1', '52:54:00:aa:00:01');
  nic(root, 'enp0s2', '52:54:00:aa:00:02');
  nic(root, 'lo', '00:00:00:00:00:00', { type: 772 });
  const r = run(root);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(seedfrom(root), 'http://192.168.1.5:8080/by-mac/52:54:00:aa:00:01/');
  assert.match(r.stderr, /this machine's seed: http:\/\/192\.168\.1\.5:8080\/by-mac\/52:54:00:aa:00:01\//);
  const yaml = spawnSync('python3', ['-c', 'import sys, yaml, json; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', join(root, OUT)], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(yaml.stdout), { datasource: { NoCloud: { seedfrom: 'http://192.168.1.5:8080/by-mac/52:54:00:aa:00:01/' } } });
});

test('a later boot with the same machine leaves the file as it was; another machine (a moved drive) gets its own URL', () => {
  const root = scratch('mac');
  nic(root, 'eth0', '52:54:00:aa:00:01');
  assert.equal(run(root).status, 0);
  const before = statSync(join(root, OUT));
  assert.equal(run(root).status, 0);
  assert.equal(statSync(join(root, OUT)).ino, before.ino, 'not rewritten');
  writeFileSync(join(root, 'sys/class/net/eth0/address'), '52:54:00:bb:00:09\n');
  assert.equal(run(root).status, 0);
  assert.equal(seedfrom(root), 'http://192.168.1.5:8080/by-mac/52:54:00:bb:00:09/');
});

test('by SMBIOS UUID (lower case, as the server matches) and by serial; https and a path prefix are kept', () => {
  const root = scratch('uuid', 'https://seed.lan/imgforge/');
  dmi(root, 'product_uuid', '4C4C4544-0042-3510-8052-B4C04F4B4E32');
  assert.equal(run(root).status, 0);
  assert.equal(seedfrom(root), 'https://seed.lan/imgforge/by-uuid/4c4c4544-0042-3510-8052-b4c04f4b4e32/');
  const s = scratch('serial');
  dmi(s, 'product_serial', 'SN-0042');
  assert.equal(run(s).status, 0);
  assert.equal(seedfrom(s), 'http://192.168.1.5:8080/by-serial/SN-0042/');
});

test('by LAN: no identifier in the URL, the server reads the MAC from its neighbour table', () => {
  const root = scratch('lan');
  assert.equal(run(root).status, 0);
  assert.equal(seedfrom(root), 'http://192.168.1.5:8080/by-lan/');
});

test('what cannot name the machine is refused with the reason, and no file is written', () => {
  for (const [value, what] of [['To Be Filled By O.E.M.', 'space'], ['a/b', 'slash'], ['a\\b', 'backslash'], ['x#1', 'hash'], ['', 'empty']] as const) {
    const root = scratch('serial');
    dmi(root, 'product_serial', value);
    const r = run(root);
    assert.equal(r.status, 1, `${what}: ${r.stderr}`);
    assert.match(r.stderr, /cannot name it in a URL/, what);
    assert.equal(existsSync(join(root, OUT)), false, what);
  }
  const none = scratch('mac');
  mkdirSync(join(none, 'sys/class/net'), { recursive: true });
  const r = run(none, { IMGFORGE_NIC_WAIT: '0' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no Ethernet interface appeared within 0s/);
  const bad = scratch('mac', 'http://192.168.1.5:8080/seed');
  nic(bad, 'eth0', '52:54:00:aa:00:01');
  assert.match(run(bad).stderr, /must be an http\(s\) URL ending in \//);
});

test('with a seed CA: update-ca-certificates runs once, before the seed is fetched; without the program a warning, and the URL still', () => {
  const root = scratch('mac', 'https://seed.lan/', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  nic(root, 'eth0', '52:54:00:aa:00:01');
  // A shim as the package's program behaves: the local certificate linked as <name>.pem in /etc/ssl/certs.
  const shims = tempDir('imgforge-shims-');
  writeFileSync(join(shims, 'update-ca-certificates'), `#!/bin/sh\necho run >>"${root}/update-calls"\nmkdir -p "${root}/etc/ssl/certs"\nln -sf "${root}${SEED_CA}" "${root}/etc/ssl/certs/imgforge-seed.pem"\n`, { mode: 0o755 });
  const path = `${shims}:${process.env['PATH']}`;
  assert.equal(run(root, { PATH: path }).status, 0);
  assert.equal(run(root, { PATH: path }).status, 0);
  assert.equal(readFileSync(join(root, 'update-calls'), 'utf8'), 'run\n', 'once: the second boot finds the certificate trusted');
  const bare = scratch('mac', 'https://seed.lan/', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  nic(bare, 'eth0', '52:54:00:aa:00:01');
  const r = run(bare, { PATH: '/usr/bin:/bin' });
  assert.equal(r.status, 0);
  assert.match(r.stderr, /update-ca-certificates is missing \(Debian package ca-certificates\)/);
  assert.equal(seedfrom(bare), 'https://seed.lan/by-mac/52:54:00:aa:00:01/');
});
