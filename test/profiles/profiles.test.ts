import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deepMerge } from '../../src/profiles/merge.ts';
import { BUILTIN_PROFILE_DIR, loadProfileFiles } from '../../src/profiles/load.ts';
import { flattenProfile, resolveProfiles } from '../../src/profiles/resolve.ts';
import { readFieldDocs } from '../../src/schema/jsdoc.ts';
import { jsonSchemas } from '../../src/schema/json-schema.ts';
import { cli, ROOT, tempDir } from '../helpers.ts';

test('merge: objects merge key by key, arrays and scalars replace, undefined keeps', () => {
  const base = { a: 1, nested: { x: 1, y: [1, 2], deep: { k: 'v' } }, list: [{ n: 1 }], keep: 'me' };
  const patch = { a: 2, nested: { y: [3], deep: { j: 'w' } }, list: [{ m: 2 }], keep: undefined };
  assert.deepEqual(deepMerge(base, patch), { a: 2, nested: { x: 1, y: [3], deep: { k: 'v', j: 'w' } }, list: [{ m: 2 }], keep: 'me' });
  assert.deepEqual(base.nested.y, [1, 2], 'the base is not mutated');
  assert.deepEqual(deepMerge({ a: { b: 1 } }, { a: null }), { a: null }, 'null replaces an object');
  assert.deepEqual(deepMerge([1, 2], { a: 1 }), { a: 1 }, 'an object replaces an array');
});

const NAMES = ['arm64-debian', 'odroid-m1', 'odroid-m1-hardkernel', 'odroid-m2', 'odroid-m2-hardkernel', 'thin-client', 'x86', 'x86-debian'];

test('the board profiles load, validate and carry their board facts', async () => {
  const profiles = resolveProfiles(await loadProfileFiles([BUILTIN_PROFILE_DIR]));
  assert.deepEqual([...profiles.keys()], NAMES);
  const debian = profiles.get('x86-debian')!;
  assert.equal(debian.base.download, null, 'a child replaces its parent\'s download with null');
  assert.equal(debian.base.bootstrap?.suite, 'bookworm');
  assert.equal(debian.base.partitions.boot, null);
  const hk = profiles.get('odroid-m1-hardkernel')!;
  assert.equal(hk.arch, 'arm64');
  assert.equal(hk.base.table, 'mbr');
  assert.deepEqual(hk.base.quirks.removeFiles, ['/etc/cloud/cloud-init.disabled', '/etc/growroot-disabled', '/root/firstboot.sh']);
  // The default ODROID bases run Kubernetes 1.35 and Cilium: cgroup v2, kernel >= 5.10, cloud-init on, by UEFI.
  for (const name of ['odroid-m1', 'odroid-m2']) {
    const p = profiles.get(name)!;
    assert.deepEqual([p.arch, p.base.arch, p.base.table, p.base.facts.cgroup, p.base.facts.cloudInit, p.boot.firmware], ['arm64', 'arm64', 'gpt', 'v2', 'enabled', ['uefi']], name);
    assert.ok(p.base.download?.sha256sums, `${name}: the download is verified against the publisher's sums`);
  }
  // A refused profile names a profile that exists, of the same board, which is not refused itself.
  for (const p of profiles.values()) {
    if (!p.alternative) continue;
    const alt = profiles.get(p.alternative);
    assert.ok(alt, `${p.name}: alternative ${p.alternative} exists`);
    assert.equal(alt.alternative, undefined);
    assert.equal(alt.base.facts.cgroup, 'v2');
  }
  assert.deepEqual([...profiles.values()].filter((p) => p.alternative).map((p) => [p.name, p.alternative]), [['odroid-m1-hardkernel', 'odroid-m1'], ['odroid-m2-hardkernel', 'odroid-m2']]);
  assert.equal(profiles.get('x86')!.base.partitions.root.label, 'cloudimg-rootfs');
  assert.deepEqual(profiles.get('x86')!.boot.firmware, ['uefi', 'bios']);
});

test('extends: the child inherits, overrides scalars, merges objects and replaces arrays', async () => {
  const profiles = resolveProfiles(await loadProfileFiles([BUILTIN_PROFILE_DIR]));
  const m1 = profiles.get('odroid-m1')!, m2 = profiles.get('odroid-m2')!;
  const x86 = profiles.get('x86')!, thin = profiles.get('thin-client')!;
  assert.equal(m2.name, 'odroid-m2');
  assert.equal(m2.extends, undefined, 'a flattened profile has no extends left');
  assert.equal(m2.arch, m1.arch, 'inherited scalar');
  assert.equal(m2.boot.console, m1.boot.console, 'inherited key inside a merged object');
  assert.equal(m2.boot.deviceTree, 'rockchip/rk3588s-odroid-m2.dtb', 'overridden key inside a merged object');
  assert.equal(m2.boot.firstSector, 32768, 'overridden scalar');
  assert.equal(m2.base.download?.url, m1.base.download?.url, 'inherited object');
  assert.notDeepEqual(m2.boot.notes, m1.boot.notes, 'arrays replace');
  assert.ok(!m2.boot.notes.some((n) => m1.boot.notes.includes(n)), 'no element of the parent array survives');
  assert.deepEqual(m2.base.quirks, m1.base.quirks, 'objects the child does not mention are inherited whole');
  assert.equal(thin.base.download?.url, x86.base.download?.url);
  assert.equal(thin.disk.media, 'usb');
  assert.equal(thin.tuning.journal, 'volatile');
  assert.equal(x86.tuning.journal, 'persistent', 'the parent is not changed by its child');
});

function writeProfiles(files: Record<string, string>): string {
  const dir = tempDir();
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, `${name}.yaml`), text);
  return dir;
}

test('extends: a loop and an unknown parent are input errors naming the chain', async () => {
  const loop = await loadProfileFiles([writeProfiles({ a: 'name: a\nextends: b\n', b: 'name: b\nextends: a\n' })]);
  assert.throws(() => flattenProfile('a', loop), (e: Error & { code?: string }) => e.code === 'ProfileExtends' && /a -> b -> a/.test(e.message));
  const orphan = await loadProfileFiles([writeProfiles({ c: 'name: c\nextends: nope\n' })]);
  assert.throws(() => flattenProfile('c', orphan), /no profile named "nope"/);
});

test('an alternative that names no profile is an input error naming the field and the file', async () => {
  const raw = await loadProfileFiles([BUILTIN_PROFILE_DIR, writeProfiles({ old: 'name: old\nextends: x86\ntitle: t\nalternative: nope\n' })]);
  assert.throws(() => resolveProfiles(raw), (e: Error & { code?: string; details?: string[] }) =>
    e.code === 'ProfileInvalid' && /old\.yaml/.test(e.message) && (e.details ?? []).some((d) => d === 'alternative: no profile named "nope"'));
  const fine = await loadProfileFiles([BUILTIN_PROFILE_DIR, writeProfiles({ old: 'name: old\nextends: x86\ntitle: t\nalternative: x86\n' })]);
  assert.equal(resolveProfiles(fine).get('old')!.alternative, 'x86');
});

test('a profile that breaks the schema is reported with its file and field, exit 2', async () => {
  const dir = writeProfiles({ bad: 'name: bad\nextends: x86\ntitle: t\narch: riscv64\nboot: { console: 3 }\n' });
  const cfg = join(dir, 'images.config.mjs');
  const base = readFileSync(join(ROOT, 'test/fixtures/minimal.config.mjs'), 'utf8');
  writeFileSync(cfg, base.replace("profileDirs: []", `profileDirs: [${JSON.stringify(dir)}]`));
  const r = await cli(['--config', cfg, 'check']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.yaml has 2 problems/);
  assert.match(r.stderr, /arch: expected "amd64" \| "arm64", got "riscv64"/);
  assert.match(r.stderr, /boot\.console: expected string, got number 3/);
});

test('a user profile folder adds boards and may extend the built-in ones', async () => {
  const dir = writeProfiles({ 'mini-pc': 'name: mini-pc\nextends: x86\ntitle: N100 mini PC\ndisk: { device: /dev/nvme0n1, media: nvme }\n' });
  const cfg = join(dir, 'images.config.mjs');
  const base = readFileSync(join(ROOT, 'test/fixtures/minimal.config.mjs'), 'utf8');
  writeFileSync(cfg, base.replace("profileDirs: []", `profileDirs: [${JSON.stringify(dir)}]`).replace(/board: 'x86'/g, "board: 'mini-pc'"));
  const r = await cli(['--config', cfg, 'plan', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as { nodes: { board: string; disk: { device: string } }[] };
  assert.ok(plan.nodes.every((n) => n.board === 'mini-pc' && n.disk.device === '/dev/nvme0n1'));
});

test('JSON Schemas: the committed files equal what the zod schemas generate, every field described by its JSDoc', () => {
  const generated = jsonSchemas(readFieldDocs());
  for (const { file, text } of generated) {
    assert.equal(readFileSync(join(ROOT, file), 'utf8'), text, `${file} is stale: run node scripts/gen-schema.ts`);
  }
  // Every field of both schemas, at any depth, carries a description for editors.
  const missing: string[] = [];
  const walk = (s: unknown, path: string): void => {
    if (!s || typeof s !== 'object') return;
    if (Array.isArray(s)) { s.forEach((x, i) => walk(x, `${path}[${i}]`)); return; }
    const o = s as Record<string, unknown>;
    for (const [k, v] of Object.entries((o['properties'] ?? {}) as Record<string, Record<string, unknown>>)) {
      if (typeof v['description'] !== 'string' || v['description'].length < 3) missing.push(`${path}.${k}`);
    }
    for (const v of Object.values(o)) walk(v, path);
  };
  for (const { file, text } of generated) walk(JSON.parse(text), file);
  assert.deepEqual(missing, []);
  const config = JSON.parse(generated[1]!.text);
  assert.equal(config.properties.cluster.properties.addons.properties.rookCeph.properties.version.description, 'Rook release, e.g. 1.16.5.');
  assert.equal(config.properties.cluster.properties.addons.properties.longhorn.properties.version.description, 'Longhorn release, e.g. 1.8.1.');
  assert.equal(config.properties.cluster.properties.selfAssembly.description.endsWith('Default: true.'), true);
  const profile = JSON.parse(generated[0]!.text) as { properties: Record<string, unknown>; additionalProperties: boolean };
  assert.deepEqual(Object.keys(profile.properties), ['$schema', 'name', 'extends', 'title', 'alternative', 'arch', 'base', 'boot', 'disk', 'layout', 'tuning']);
  assert.equal(profile.additionalProperties, false, 'unknown keys are flagged in editors too');
});

test('every profile file points editors at the schema', () => {
  for (const name of NAMES) {
    assert.match(readFileSync(join(BUILTIN_PROFILE_DIR, `${name}.yaml`), 'utf8'), /^# yaml-language-server: \$schema=\.\/profile\.schema\.json\n/);
  }
});

test('overrides.base.download.sha256 alone pins the profile\'s download; upper-case hex is accepted and kept lower-case', async () => {
  const dir = tempDir();
  const hash = 'AB'.repeat(32);
  const config = join(dir, 'images.config.mjs');
  writeFileSync(config, `export default {
  cluster: { name: 'pin', kubernetesVersion: '1.35.3', controlPlaneEndpoint: { vip: '192.168.50.10' }, cni: { plugin: 'calico', version: '3.32.1' } },
  network: { gateway: '192.168.50.1' },
  users: [{ name: 'ops', sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPinKeyPinKeyPinKeyPinKeyPinKeyPinKeyPin0000 ops@t'] }],
  nodes: [{ hostname: 'm1', board: 'odroid-m1', role: 'control-plane', address: '192.168.50.11/24', overrides: { base: { download: { sha256: '${hash}' } } } }],
};\n`);
  const r = await cli(['--config', config, 'plan', 'm1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const download = JSON.parse(r.stdout).nodes[0].base.download as { url: string; sha256: string; format: string };
  assert.equal(download.sha256, hash.toLowerCase());
  assert.match(download.url, /^https:\/\//, 'the profile\'s URL stays');
  assert.ok(download.format.length > 0, 'and its format');
  // Another file: a config module is imported once per process.
  const badConfig = join(dir, 'bad.config.mjs');
  writeFileSync(badConfig, readFileSync(config, 'utf8').replace(hash, 'abc'));
  const bad = await cli(['--config', badConfig, 'plan', 'm1']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /nodes\[0\]\.overrides\.base\.download\.sha256: must be 64 hex digits/);
});
