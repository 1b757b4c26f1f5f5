// Malformed configs through the CLI: every one must exit 2 (input error), name the field by its
// dotted path, and write nothing. Each case gets its own temp dir, since configs load by import()
// and Node caches modules per path.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { cli, listFiles, tempDir, type CliResult } from '../helpers.ts';
import { labCluster, obj, type Json, type Obj } from '../fixtures/lab-config.ts';


const BASE: Obj = labCluster('ExampleKeyForConfigErrorTests');

// Accessors for the mutations below; the base is a plain JSON tree.
const list = (v: Json | undefined): Json[] => {
  assert.ok(Array.isArray(v), 'expected a list in the base config');
  return v;
};
const cluster = (c: Obj): Obj => obj(c['cluster']);
const node = (c: Obj, i: number): Obj => obj(list(c['nodes'])[i]);
const user = (c: Obj, i: number): Obj => obj(list(c['users'])[i]);

function configWith(mutate: (c: Obj) => void = () => undefined): Obj {
  const c = structuredClone(BASE);
  mutate(c);
  return c;
}

interface Written {
  readonly dir: string;
  readonly file: string;
  readonly out: string;
}

/** Write a config file into a fresh temp dir. */
function writeConfig(name: string, text: string): Written {
  const dir = tempDir('imgforge-config-errors-');
  const file = join(dir, name);
  writeFileSync(file, text);
  return { dir, file, out: join(dir, 'out') };
}

const asModule = (c: Obj): string => `export default ${JSON.stringify(c, null, 2)};\n`;

/** The "  - path: message" lines of a ConfigInvalid error. */
function detailLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('  - ')).map((l) => l.slice(4));
}

/** Assert the run failed as an input error naming exactly these fields (one line each). */
function assertInvalid(r: CliResult, file: string, expected: readonly { path: string; message?: RegExp | string }[]): void {
  assert.equal(r.code, 2, `expected exit 2 (invalid input), got ${r.code}\n${r.stderr}`);
  const n = expected.length;
  assert.ok(r.stderr.startsWith(`The config is invalid: ${file} has ${n} problem${n === 1 ? '' : 's'}:\n`), r.stderr);
  const lines = detailLines(r.stderr);
  assert.equal(lines.length, n, `expected ${n} problem line(s):\n${r.stderr}`);
  for (const e of expected) {
    const line = lines.find((l) => l.startsWith(`${e.path}: `));
    assert.ok(line, `no problem line names ${e.path}:\n${r.stderr}`);
    if (typeof e.message === 'string') assert.equal(line, `${e.path}: ${e.message}`);
    else if (e.message) assert.match(line, e.message);
  }
  assert.match(r.stderr, /\nhint: Each line names the field as a dotted path/);
  assert.equal(r.stdout, '');
}

/** Assert that nothing but the config file exists in the case's temp dir (no out dir, no temp sibling). */
function assertNothingWritten(w: Written, configName: string): void {
  assert.equal(existsSync(w.out), false, `${w.out} must not exist`);
  assert.deepEqual(listFiles(w.dir), [configName]);
}

interface Case {
  readonly name: string;
  readonly mutate: (c: Obj) => void;
  readonly expect: readonly { path: string; message?: RegExp | string }[];
}

const CASES: readonly Case[] = [
  // Wrong types.
  { name: 'kubernetesVersion is a number', mutate: (c) => { cluster(c)['kubernetesVersion'] = 135; },
    expect: [{ path: 'cluster.kubernetesVersion', message: 'expected string, got number 135' }] },
  { name: 'kubernetesVersion without a patch release', mutate: (c) => { cluster(c)['kubernetesVersion'] = '1.35'; },
    expect: [{ path: 'cluster.kubernetesVersion', message: /must be a Kubernetes release like 1\.33\.2, got "1\.35"/ }] },
  { name: 'port is a string', mutate: (c) => { obj(cluster(c)['controlPlaneEndpoint'])['port'] = '6443'; },
    expect: [{ path: 'cluster.controlPlaneEndpoint.port', message: 'expected number, got "6443"' }] },
  { name: 'port out of range', mutate: (c) => { obj(cluster(c)['controlPlaneEndpoint'])['port'] = 70000; },
    expect: [{ path: 'cluster.controlPlaneEndpoint.port', message: /must be <= 65535/ }] },
  { name: 'node etcd is not a boolean', mutate: (c) => { node(c, 1)['etcd'] = 'yes'; },
    expect: [{ path: 'nodes[1].etcd', message: 'expected boolean, got "yes"' }] },
  { name: 'users is not a list', mutate: (c) => { c['users'] = 'ops'; },
    expect: [{ path: 'users', message: 'expected array, got "ops"' }] },
  { name: 'schedulableControlPlanes is a string', mutate: (c) => { cluster(c)['schedulableControlPlanes'] = 'true'; },
    expect: [{ path: 'cluster.schedulableControlPlanes', message: 'expected boolean, got "true"' }] },

  // Unknown keys, at several depths.
  { name: 'unknown key at the top level', mutate: (c) => { c['clusters'] = {}; },
    expect: [{ path: 'clusters', message: 'unknown key' }] },
  { name: 'unknown key in cluster', mutate: (c) => { cluster(c)['foo'] = 1; },
    expect: [{ path: 'cluster.foo', message: 'unknown key' }] },
  { name: 'unknown key in a node', mutate: (c) => { node(c, 0)['ip'] = '192.168.1.11'; },
    expect: [{ path: 'nodes[0].ip', message: 'unknown key' }] },
  { name: 'unknown key in node.layout', mutate: (c) => { node(c, 1)['layout'] = { root: { size: 'rest' }, swap: '4GiB' }; },
    expect: [{ path: 'nodes[1].layout.swap', message: 'unknown key' }] },
  { name: 'unknown key in cluster.addons.metallb',
    mutate: (c) => { cluster(c)['addons'] = { metallb: { pools: [{ name: 'lan', addresses: ['192.168.1.240/28'] }], speaker: true } }; },
    expect: [{ path: 'cluster.addons.metallb.speaker', message: 'unknown key' }] },
  { name: 'unknown add-on', mutate: (c) => { cluster(c)['addons'] = { traefik: {} }; },
    expect: [{ path: 'cluster.addons.traefik', message: 'unknown key' }] },

  // Addresses and networks.
  { name: 'podCidr with prefix /33', mutate: (c) => { cluster(c)['podCidr'] = '10.0.0.0/33'; },
    expect: [{ path: 'cluster.podCidr', message: /must be an address with a prefix length.*got "10\.0\.0\.0\/33"/ }] },
  { name: 'serviceCidr that is no CIDR', mutate: (c) => { cluster(c)['serviceCidr'] = 'x'; },
    expect: [{ path: 'cluster.serviceCidr', message: /must be an address with a prefix length.*got "x"/ }] },
  { name: 'node address with octet 300', mutate: (c) => { node(c, 1)['address'] = '192.168.1.300/24'; },
    expect: [{ path: 'nodes[1].address', message: /must be "dhcp" or an address with its prefix length.*got "192\.168\.1\.300\/24"/ }] },
  { name: 'node address without prefix', mutate: (c) => { node(c, 2)['address'] = '192.168.1.13'; },
    expect: [{ path: 'nodes[2].address', message: /must be "dhcp" or an address with its prefix length.*got "192\.168\.1\.13"/ }] },
  { name: 'VIP with three octets', mutate: (c) => { obj(cluster(c)['controlPlaneEndpoint'])['vip'] = '1.2.3'; },
    expect: [{ path: 'cluster.controlPlaneEndpoint.vip', message: /must be an IPv4 or IPv6 address, got "1\.2\.3"/ }] },
  { name: 'gateway that is no address', mutate: (c) => { obj(c['network'])['gateway'] = '192.168.1.256'; },
    expect: [{ path: 'network.gateway', message: /must be an IPv4 or IPv6 address/ }] },
  { name: 'MAC with five octets', mutate: (c) => { node(c, 2)['mac'] = '52:54:00:00:00'; },
    expect: [{ path: 'nodes[2].mac', message: /must be a MAC address.*got "52:54:00:00:00"/ }] },
  { name: 'MetalLB range written backwards',
    mutate: (c) => { cluster(c)['addons'] = { metallb: { pools: [{ name: 'lan', addresses: ['192.168.1.250-192.168.1.240'] }] } }; },
    expect: [{ path: 'cluster.addons.metallb.pools[0].addresses[0]', message: /must be a CIDR .* or a range/ }] },

  // Names.
  { name: 'uppercase hostname', mutate: (c) => { node(c, 0)['hostname'] = 'CP01'; },
    expect: [{ path: 'nodes[0].hostname', message: /must be a lowercase RFC 1123 label.*got "CP01"/ }] },
  { name: 'hostname with an underscore', mutate: (c) => { node(c, 0)['hostname'] = 'cp_01'; },
    expect: [{ path: 'nodes[0].hostname', message: /must be a lowercase RFC 1123 label.*got "cp_01"/ }] },
  { name: 'cluster name with a dot', mutate: (c) => { cluster(c)['name'] = 'my.lab'; },
    expect: [{ path: 'cluster.name', message: /must be a lowercase RFC 1123 label/ }] },

  // Board profiles (resolved after the schema).
  { name: 'unknown board, near miss of odroid-m1', mutate: (c) => { node(c, 1)['board'] = 'odroid-m3'; },
    expect: [{ path: 'nodes[1].board', message: /^nodes\[1\]\.board: no board profile named "odroid-m3" \(did you mean "odroid-m1"\?\); known: arm64-debian, odroid-m1, odroid-m1-hardkernel, odroid-m2, odroid-m2-hardkernel, thin-client, x86, x86-debian$/ }] },
  { name: 'unknown board, near miss of x86', mutate: (c) => { node(c, 2)['board'] = 'x68'; },
    expect: [{ path: 'nodes[2].board', message: /no board profile named "x68" \(did you mean "x86"\?\)/ }] },
  { name: 'unknown board, nothing close', mutate: (c) => { node(c, 0)['board'] = 'raspberry-pi-5'; },
    expect: [{ path: 'nodes[0].board', message: /^nodes\[0\]\.board: no board profile named "raspberry-pi-5"; known: / }] },

  // Enum misses.
  { name: 'cni plugin flannel', mutate: (c) => { obj(cluster(c)['cni'])['plugin'] = 'flannel'; },
    expect: [{ path: 'cluster.cni.plugin', message: 'expected "cilium" | "calico", got "flannel"' }] },
  { name: 'role master', mutate: (c) => { node(c, 1)['role'] = 'master'; },
    expect: [{ path: 'nodes[1].role', message: 'expected "control-plane" | "worker" | "etcd", got "master"' }] },
  { name: 'provider haproxy', mutate: (c) => { obj(cluster(c)['controlPlaneEndpoint'])['provider'] = 'haproxy'; },
    expect: [{ path: 'cluster.controlPlaneEndpoint.provider', message: /expected "keepalived" \| "keepalived\+haproxy" \| "kube-vip", got "haproxy"/ }] },
  { name: 'etcd topology unknown', mutate: (c) => { cluster(c)['etcd'] = { topology: 'hybrid' }; },
    expect: [{ path: 'cluster.etcd.topology', message: /expected "stacked" \| "external", got "hybrid"/ }] },

  // Sizes.
  { name: 'disk size with unknown unit 12Q', mutate: (c) => { node(c, 0)['disk'] = { size: '12Q' }; },
    expect: [{ path: 'nodes[0].disk.size', message: /must be a size such as 64GiB.*got "12Q"/ }] },
  { name: 'root share of 150%', mutate: (c) => { node(c, 0)['layout'] = { root: { size: '150%' } }; },
    expect: [{ path: 'nodes[0].layout.root.size', message: /must be a size \(64GiB\), a share of the disk \(50%\) or "rest", got "150%"/ }] },
  { name: 'disk size 0', mutate: (c) => { node(c, 1)['disk'] = { size: 0 }; },
    expect: [{ path: 'nodes[1].disk.size', message: /must be a size.*got number 0/ }] },
  { name: 'an ext4 mountpoint with a space (it would split the fstab line)', mutate: (c) => { node(c, 0)['layout'] = { reserved: [{ name: 'data', size: 'rest', format: 'ext4', mountpoint: '/var/lib/my data' }] }; },
    expect: [{ path: 'nodes[0].layout.reserved[0].mountpoint', message: /must be an absolute path without spaces, quotes, backslashes or control characters, got "\/var\/lib\/my data"/ }] },
  { name: 'reserved partition size -5', mutate: (c) => { node(c, 2)['layout'] = { reserved: [{ name: 'data', size: -5 }] }; },
    expect: [{ path: 'nodes[2].layout.reserved[0].size', message: /got number -5/ }] },

  // Secrets.
  { name: 'clear-text password key', mutate: (c) => { user(c, 0)['password'] = 'hunter2'; },
    expect: [{ path: 'users[0].password', message: 'unknown key' }] },
  { name: 'hashedPassword that is not a crypt hash', mutate: (c) => { user(c, 0)['hashedPassword'] = 'hunter2'; },
    expect: [{ path: 'users[0].hashedPassword', message: /must be a crypt\(3\) hash.*got "hunter2"/ }] },
  { name: 'SSH key line that is not a key', mutate: (c) => { user(c, 0)['sshAuthorizedKeys'] = ['not a key']; },
    expect: [{ path: 'users[0].sshAuthorizedKeys[0]', message: /must be an OpenSSH public key line/ }] },

  // Missing and empty.
  { name: 'empty nodes list', mutate: (c) => { c['nodes'] = []; },
    expect: [{ path: 'nodes', message: 'needs at least 1 entry' }] },
  { name: 'missing cluster', mutate: (c) => { delete c['cluster']; },
    expect: [{ path: 'cluster', message: 'required (object)' }] },
  { name: 'missing controlPlaneEndpoint.vip', mutate: (c) => { delete obj(cluster(c)['controlPlaneEndpoint'])['vip']; },
    expect: [{ path: 'cluster.controlPlaneEndpoint.vip', message: /^cluster\.controlPlaneEndpoint\.vip: required/ }] },
  { name: 'taint without effect', mutate: (c) => { node(c, 0)['taints'] = [{ key: 'dedicated' }]; },
    expect: [{ path: 'nodes[0].taints[0].effect', message: /got nothing/ }] },

  // Node overrides of the board profile.
  { name: 'overrides.tuning.journal "ram"', mutate: (c) => { node(c, 2)['overrides'] = { tuning: { journal: 'ram' } }; },
    expect: [{ path: 'nodes[2].overrides.tuning.journal', message: 'expected "persistent" | "volatile", got "ram"' }] },
  { name: 'overrides with an unknown section', mutate: (c) => { node(c, 2)['overrides'] = { kernel: { version: '6.8' } }; },
    expect: [{ path: 'nodes[2].overrides.kernel', message: 'unknown key' }] },
  { name: 'overrides with an unknown key inside a section', mutate: (c) => { node(c, 0)['overrides'] = { tuning: { journl: 'volatile' } }; },
    expect: [{ path: 'nodes[0].overrides.tuning.journl', message: 'unknown key' }] },
  { name: 'overrides giving a base both download and bootstrap (checked after the merge)',
    mutate: (c) => { node(c, 1)['overrides'] = { base: { bootstrap: { suite: 'noble', mirror: 'http://archive.ubuntu.com/ubuntu' } } }; },
    expect: [{ path: 'nodes[1].overrides.base', message: /must give exactly one of download or bootstrap/ }] },
];

describe('malformed configs (table): exit 2, the field named, nothing written', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const w = writeConfig('images.config.ts', asModule(configWith(c.mutate)));
      const check = await cli(['--config', w.file, 'check']);
      assertInvalid(check, w.file, c.expect);
      const render = await cli(['--config', w.file, 'render', 'cp01', '--out', w.out]);
      assertInvalid(render, w.file, c.expect);
      assertNothingWritten(w, 'images.config.ts');
    });
  }
});

describe('config files that cannot be read', () => {
  const TS_HINT = 'hint: TypeScript configs run without a bundler: use erasable syntax only (no enum, namespace or parameter properties)';

  test('syntax error in a .ts config', async () => {
    const w = writeConfig('images.config.ts', 'export default {\n  cluster: { name: "lab",\n');
    const r = await cli(['--config', w.file, 'render', 'cp01', '--out', w.out]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.startsWith(`The config file could not be read: ${w.file}: syntax error: `), r.stderr);
    assertNothingWritten(w, 'images.config.ts');
  });

  test('non-erasable TypeScript (enum) is refused with the erasable-syntax hint', async () => {
    const w = writeConfig('images.config.ts', [
      'enum Role { ControlPlane = "control-plane", Worker = "worker" }',
      `const config = ${JSON.stringify(BASE)};`,
      'config.nodes[0].role = Role.ControlPlane;',
      'export default config;',
      '',
    ].join('\n'));
    const r = await cli(['--config', w.file, 'render', 'cp01', '--out', w.out]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.startsWith(`The config file could not be read: ${w.file}: syntax error: `), r.stderr);
    assert.match(r.stderr, /enum is not supported in strip-only mode/);
    assert.ok(r.stderr.includes(TS_HINT), r.stderr);
    assertNothingWritten(w, 'images.config.ts');
  });

  test('non-erasable TypeScript (namespace) is refused too', async () => {
    const w = writeConfig('images.config.ts', `namespace Lab { export const vip = "192.168.1.10"; }\nexport default ${JSON.stringify(BASE)};\n`);
    const r = await cli(['--config', w.file, 'check']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /namespace declaration is not supported in strip-only mode/);
    assert.ok(r.stderr.includes(TS_HINT), r.stderr);
  });

  test('syntax error in a .json config', async () => {
    const w = writeConfig('images.config.json', '{ "cluster": { "name": "lab", }\n');
    const r = await cli(['--config', w.file, 'render', 'cp01', '--out', w.out]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.startsWith(`The config file could not be parsed: ${w.file}: syntax error: `), r.stderr);
    assert.match(r.stderr, /in JSON at position \d+ \(line 1 column \d+\)/);
    assert.ok(!r.stderr.includes(TS_HINT), 'the TypeScript hint is for TypeScript configs only');
    assertNothingWritten(w, 'images.config.json');
  });

  test('syntax error in a .yaml config names the line and column', async () => {
    const w = writeConfig('images.config.yaml', 'cluster:\n  name: lab\n    kubernetesVersion: 1.35.3\n');
    const r = await cli(['--config', w.file, 'render', 'cp01', '--out', w.out]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.startsWith(`The config file could not be parsed: ${w.file}: `), r.stderr);
    assert.match(r.stderr, /at line 2, column \d+\n/, 'no dangling colon after the position');
    assert.ok(!r.stderr.includes(TS_HINT));
    assertNothingWritten(w, 'images.config.yaml');
  });

  test('missing config file (--config nope.ts)', async () => {
    const r = await cli(['--config', 'nope.ts', 'check']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^Config file not found: There is no config file at \/.*\/nope\.ts\./);
    assert.match(r.stderr, /hint: Create images\.config\.ts/);
  });

  test('missing config file with --json also prints a machine-readable error', async () => {
    const dir = tempDir('imgforge-config-errors-');
    const r = await cli(['--config', join(dir, 'nope.ts'), 'check', '--json']);
    assert.equal(r.code, 2, r.stderr);
    const body = JSON.parse(r.stdout) as { error: { code: string; category: string; message: string } };
    assert.equal(body.error.code, 'ConfigNotFound');
    assert.equal(body.error.category, 'input');
    assert.equal(body.error.message, `There is no config file at ${join(dir, 'nope.ts')}.`);
  });

  test('unsupported extension (.toml)', async () => {
    const w = writeConfig('images.config.toml', '[cluster]\nname = "lab"\n');
    const r = await cli(['--config', w.file, 'render', 'cp01', '--out', w.out]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.startsWith(`Unsupported config file type: ${w.file} is not a .ts, .mts, .js, .mjs, .json, .yaml or .yml file.`), r.stderr);
    assertNothingWritten(w, 'images.config.toml');
  });

  test('no default export', async () => {
    const w = writeConfig('images.config.ts', `export const config = ${JSON.stringify(BASE)};\n`);
    const r = await cli(['--config', w.file, 'render', 'cp01', '--out', w.out]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.startsWith(`The config file exports nothing: ${w.file} has no default export.`), r.stderr);
    assert.match(r.stderr, /hint: End the file with `export default defineConfig\(\{ \.\.\. \}\)`/);
    assertNothingWritten(w, 'images.config.ts');
  });

  test('a default export that is not an object', async () => {
    const w = writeConfig('images.config.mjs', 'export default 42;\n');
    assertInvalid(await cli(['--config', w.file, 'check']), w.file, [{ path: '(top level)', message: 'expected object, got number 42' }]);
  });

  test('an empty .yaml file', async () => {
    const w = writeConfig('images.config.yaml', '');
    assertInvalid(await cli(['--config', w.file, 'check']), w.file, [{ path: '(top level)', message: 'expected object, got null' }]);
  });

  test('a .json config that is a list', async () => {
    const w = writeConfig('images.config.json', '[]');
    assertInvalid(await cli(['--config', w.file, 'check']), w.file, [{ path: '(top level)', message: 'expected object, got a list' }]);
  });

  test('a default-export function is called and its result validated', async () => {
    const w = writeConfig('images.config.mjs', 'export default async () => ({ foo: 1 });\n');
    assertInvalid(await cli(['--config', w.file, 'check']), w.file, [
      { path: 'cluster', message: 'required (object)' },
      { path: 'users', message: 'required (array)' },
      { path: 'nodes', message: 'required (array)' },
      { path: 'foo', message: 'unknown key' },
    ]);
  });

  test('a default-export function that throws is an input error, not an imgforge bug', async () => {
    for (const body of ['() => { throw new Error("no config today"); }', 'async () => { throw new Error("no config today"); }']) {
      const w = writeConfig('images.config.mjs', `export default ${body};\n`);
      const r = await cli(['--config', w.file, 'check']);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.startsWith(`The config file failed while running: ${w.file} threw while it ran: no config today`), r.stderr);
      assert.doesNotMatch(r.stderr, /This is a bug in imgforge/);
    }
  });

  test('a default export may be a promise or an async function', async () => {
    for (const wrap of [(o: string) => `Promise.resolve(${o})`, (o: string) => `async () => (${o})`]) {
      const w = writeConfig('images.config.mjs', `export default ${wrap(JSON.stringify(BASE))};\n`);
      const r = await cli(['--config', w.file, 'check']);
      assert.equal(r.code, 0, r.stderr);
    }
  });
});

describe('several errors at once', () => {
  test('every schema problem is reported in one run, one line each', async () => {
    const w = writeConfig('images.config.ts', asModule(configWith((c) => {
      cluster(c)['kubernetesVersion'] = 135;
      cluster(c)['podCidr'] = '10.0.0.0/33';
      cluster(c)['foo'] = true;
      obj(cluster(c)['cni'])['plugin'] = 'flannel';
      obj(cluster(c)['controlPlaneEndpoint'])['vip'] = '1.2.3';
      node(c, 0)['hostname'] = 'CP01';
      node(c, 1)['address'] = '192.168.1.300/24';
      node(c, 1)['role'] = 'master';
      node(c, 2)['mac'] = 'nope';
      node(c, 2)['overrides'] = { tuning: { journal: 'ram' } };
      user(c, 0)['password'] = 'hunter2';
    })));
    const expected = [
      { path: 'cluster.kubernetesVersion' }, { path: 'cluster.podCidr' }, { path: 'cluster.foo', message: 'unknown key' },
      { path: 'cluster.cni.plugin' }, { path: 'cluster.controlPlaneEndpoint.vip' }, { path: 'nodes[0].hostname' },
      { path: 'nodes[1].address' }, { path: 'nodes[1].role' }, { path: 'nodes[2].mac' },
      { path: 'nodes[2].overrides.tuning.journal' }, { path: 'users[0].password', message: 'unknown key' },
    ];
    const r = await cli(['--config', w.file, 'render', 'cp01', '--out', w.out]);
    assertInvalid(r, w.file, expected);
    assert.match(r.stderr, /has 11 problems:/);
    assertNothingWritten(w, 'images.config.ts');
  });

  test('every board-reference problem is reported in one run', async () => {
    const w = writeConfig('images.config.ts', asModule(configWith((c) => {
      node(c, 0)['board'] = 'x68';
      node(c, 1)['board'] = 'odroid-m3';
      node(c, 2)['overrides'] = { base: { bootstrap: { suite: 'noble', mirror: 'http://archive.ubuntu.com/ubuntu' } } };
    })));
    assertInvalid(await cli(['--config', w.file, 'check']), w.file, [
      { path: 'nodes[0].board', message: /did you mean "x86"/ },
      { path: 'nodes[1].board', message: /did you mean "odroid-m1"/ },
      { path: 'nodes[2].overrides.base' },
    ]);
  });

  test('--json carries every problem in error.details', async () => {
    const w = writeConfig('images.config.ts', asModule(configWith((c) => {
      cluster(c)['serviceCidr'] = 'x';
      node(c, 1)['etcd'] = 'yes';
      c['extra'] = 1;
    })));
    const r = await cli(['--config', w.file, 'check', '--json']);
    assert.equal(r.code, 2, r.stderr);
    const body = JSON.parse(r.stdout) as { error: { code: string; category: string; details: string[] } };
    assert.equal(body.error.code, 'ConfigInvalid');
    assert.equal(body.error.category, 'input');
    assert.deepEqual(body.error.details.map((d) => d.split(': ')[0]).sort(), ['cluster.serviceCidr', 'extra', 'nodes[1].etcd']);
  });
});

describe('valid configs in every format', () => {
  const assertChecks = (r: CliResult): void => {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^ok: 3 nodes, 0 errors, 0 warnings$/m);
  };

  test('a valid .yaml config checks clean', async () => {
    const w = writeConfig('images.config.yaml', toYaml(BASE));
    assertChecks(await cli(['--config', w.file, 'check']));
  });

  test('a valid .yml config checks clean', async () => {
    const w = writeConfig('images.config.yml', toYaml(BASE));
    assertChecks(await cli(['--config', w.file, 'check']));
  });

  test('a valid .json config checks clean', async () => {
    const w = writeConfig('images.config.json', JSON.stringify({ $schema: './schema/images.config.schema.json', ...BASE }, null, 2));
    assertChecks(await cli(['--config', w.file, 'check']));
  });

  test('a .ts config with a plain `export default {...}` (no imgforge import, type annotations stripped) checks clean', async () => {
    const w = writeConfig('images.config.ts', [
      'type Role = "control-plane" | "worker";',
      `const role: Role = "control-plane";`,
      `const nodes = [1, 2, 3].map((i: number) => ({ hostname: \`cp0\${i}\`, board: "x86", role, address: \`192.168.1.1\${i}/24\`, mac: \`52:54:00:00:00:1\${i}\` }));`,
      `export default { ...${JSON.stringify({ ...BASE, nodes: undefined })}, nodes } satisfies Record<string, unknown>;`,
      '',
    ].join('\n'));
    assertChecks(await cli(['--config', w.file, 'check']));
  });

  test('a valid .mjs config renders (control for the "nothing written" assertions)', async () => {
    const w = writeConfig('images.config.mjs', asModule(BASE));
    const r = await cli(['--config', w.file, 'render', 'cp01', '--out', w.out]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(listFiles(w.out).filter((f) => !f.startsWith('tree/')), ['.imgforge', 'imgforge-bundle.tar', 'imgforge-secrets.tar', 'meta-data', 'network-config', 'user-data', 'vendor-data']);
    assert.ok(listFiles(w.out).includes('tree/etc/imgforge/node.json'));
  });
});

describe('command-line errors', () => {
  test('render of an unknown node exits 2 and writes nothing', async () => {
    const w = writeConfig('images.config.ts', asModule(BASE));
    const r = await cli(['--config', w.file, 'render', 'nosuchnode', '--out', w.out]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^Unknown node: There is no node with hostname "nosuchnode"\./);
    assert.match(r.stderr, /hint: Nodes: cp01, cp02, cp03\./);
    assertNothingWritten(w, 'images.config.ts');
  });

  test('an unknown flag exits 2', async () => {
    const w = writeConfig('images.config.ts', asModule(BASE));
    const r = await cli(['--config', w.file, 'check', '--frobnicate']);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^Invalid command line: unknown option '--frobnicate'\n/);
    assert.match(r.stderr, /hint: Run `imgforge --help`/);
  });

  test('an unknown command exits 2', async () => {
    const r = await cli(['frobnicate']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^Invalid command line: unknown command 'frobnicate'/);
  });

  test('render without --out exits 2 and writes nothing', async () => {
    const w = writeConfig('images.config.ts', asModule(BASE));
    const r = await cli(['--config', w.file, 'render', 'cp01']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^Invalid command line: required option '-o, --out <dir>' not specified/);
    assert.deepEqual(listFiles(w.dir), ['images.config.ts']);
  });
});

describe('reference problems', () => {
  test('a missing profile folder is an input error naming profileDirs[i]', async () => {
    const w = writeConfig('images.config.mjs', asModule(configWith((c) => { c['profileDirs'] = ['boards', 'nope']; })));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(w.dir, 'boards'));
    const r = await cli(['--config', w.file, 'render', 'cp01', '--out', w.out]);
    assertInvalid(r, w.file, [{ path: 'profileDirs[1]', message: `no folder at ${join(w.dir, 'nope')}` }]);
    assert.ok(!existsSync(w.out));
  });

  test('an unknown board is reported together with schema problems', async () => {
    const w = writeConfig('images.config.mjs', asModule(configWith((c) => { cluster(c)['foo'] = 1; node(c, 1)['board'] = 'x68'; })));
    const r = await cli(['--config', w.file, 'check']);
    assertInvalid(r, w.file, [
      { path: 'cluster.foo', message: 'unknown key' },
      { path: 'nodes[1].board', message: /no board profile named "x68" \(did you mean "x86"\?\)/ },
    ]);
  });

  test('a bad label key says what a label key must be', async () => {
    const w = writeConfig('images.config.mjs', asModule(configWith((c) => { node(c, 0)['labels'] = { 'Bad Key': 'v' }; })));
    const r = await cli(['--config', w.file, 'check']);
    assertInvalid(r, w.file, [{ path: 'nodes[0].labels["Bad Key"]', message: /must be a Kubernetes label key/ }]);
  });
});
