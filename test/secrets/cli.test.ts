// imgforge secrets init/show/rotate-token/issue and how build and render keep the bundle: made
// once beside the config, 0600, reused byte for byte; a bad bundle is exit 2 naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { cli, listFiles, tempDir } from '../helpers.ts';

const SSH = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFixtureKeyFixtureKeyFixtureKeyFixtureKey0000 ops@test';
/** Two control planes, a worker with the third etcd member, two plain workers. */
let written = 0;
/** Each call writes a new file: a config module, once imported, stays in this process's module cache. */
function config(dir: string, name = 'vault', w1Address = '10.9.0.21/24', ttl?: string): string {
  const file = join(dir, `images${written++ || ''}.config.mjs`);
  writeFileSync(file, `export default ${JSON.stringify({
    cluster: { name, kubernetesVersion: '1.35.3', controlPlaneEndpoint: { vip: '10.9.0.10' }, cni: { plugin: 'cilium' }, encryptionAlgorithm: 'ECDSA-P256', ...(ttl ? { bootstrapTokenTtl: ttl } : {}) },
    network: { gateway: '10.9.0.1', dns: ['10.9.0.1'] },
    users: [{ name: 'ops', sshAuthorizedKeys: [SSH] }],
    nodes: [
      { hostname: 'cp1', board: 'x86', role: 'control-plane', address: '10.9.0.11/24', mac: '52:54:00:09:00:11' },
      { hostname: 'cp2', board: 'x86', role: 'control-plane', address: '10.9.0.12/24', mac: '52:54:00:09:00:12' },
      { hostname: 'w1', board: 'x86', role: 'worker', etcd: true, address: w1Address, mac: '52:54:00:09:00:21' },
      { hostname: 'w2', board: 'x86', role: 'worker', address: '10.9.0.22/24', mac: '52:54:00:09:00:22' },
      { hostname: 'w3', board: 'x86', role: 'worker', address: '10.9.0.23/24', mac: '52:54:00:09:00:23' },
    ],
    profileDirs: [],
  })};\n`);
  return file;
}

/** Run with the bundle in its default place, beside the config (the suite's IMGFORGE_SECRETS_DIR set aside). */
async function beside(args: string[]): Promise<Awaited<ReturnType<typeof cli>>> {
  const saved = process.env['IMGFORGE_SECRETS_DIR'];
  delete process.env['IMGFORGE_SECRETS_DIR'];
  try {
    return await cli(args);
  } finally {
    process.env['IMGFORGE_SECRETS_DIR'] = saved;
  }
}

/** Every node's seed files, rendered: hostname -> file name -> bytes (base64). */
async function seeds(file: string, nodes = ['cp1', 'cp2', 'w1', 'w2', 'w3']): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const n of nodes) {
    const dir = tempDir();
    const r = await beside(['--config', file, 'render', n, '--out', join(dir, n)]);
    assert.equal(r.code, 0, r.stderr);
    out[n] = Object.fromEntries(listFiles(join(dir, n)).filter((f) => !f.startsWith('tree/')).map((f) => [f, readFileSync(join(dir, n, f)).toString('base64')]));
  }
  return out;
}

test('init writes .imgforge/secrets/<cluster>.yaml beside the config, 0600 in 0700, git-ignored; init again refuses and names the stale nodes; --force replaces', async () => {
  const dir = tempDir();
  const file = config(dir);
  const r = await beside(['--config', file, 'secrets', 'init']);
  assert.equal(r.code, 0, r.stderr);
  const path = join(dir, '.imgforge/secrets/vault.yaml');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, '.imgforge/secrets')).mode & 0o777, 0o700);
  assert.match(readFileSync(join(dir, '.imgforge/.gitignore'), 'utf8'), /^secrets\/$/m);
  const before = readFileSync(path);
  const again = await beside(['--config', file, 'secrets', 'init']);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /vault\.yaml/);
  assert.match(again.stderr, /cp1, cp2, w1, w2, w3/);
  assert.deepEqual(readFileSync(path), before, 'refused: the bundle is untouched');
  const forced = await beside(['--config', file, 'secrets', 'init', '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /stale: cp1, cp2, w1, w2, w3/);
  assert.notDeepEqual(readFileSync(path), before);
});

test('show: kinds, fingerprints, validity, the CA hash and the token id, never key bytes or the token secret', async () => {
  const dir = tempDir();
  const file = config(dir);
  assert.equal((await beside(['--config', file, 'secrets', 'init'])).code, 0);
  const bundle = parse(readFileSync(join(dir, '.imgforge/secrets/vault.yaml'), 'utf8')) as { token: { id: string; secret: string }; vrrpPassword: string };
  for (const json of [false, true]) {
    const r = await beside(['--config', file, 'secrets', 'show', ...(json ? ['--json'] : [])]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /PRIVATE KEY/);
    assert.ok(!r.stdout.includes(bundle.token.secret) && !r.stdout.includes(bundle.vrrpPassword));
    assert.ok(r.stdout.includes(bundle.token.id));
    assert.match(r.stdout, /sha256:[0-9a-f]{64}/);
    if (json) {
      const facts = JSON.parse(r.stdout) as { certificates: { name: string; fingerprint: string; notAfter: string }[]; token: { expired: boolean } };
      assert.deepEqual(facts.certificates.map((c) => c.name), ['cluster CA (ca.crt)', 'front-proxy CA (front-proxy-ca.crt)', 'etcd CA (etcd/ca.crt)',
        'w1 etcd server', 'w1 etcd peer', 'w1 etcd healthcheck-client']);
      assert.equal(facts.token.expired, false);
    }
  }
});

test('render makes the bundle on first use and reuses it: the same seeds byte for byte, the file untouched', async () => {
  const dir = tempDir();
  const file = config(dir);
  const first = await seeds(file, ['cp1', 'w1']);
  const path = join(dir, '.imgforge/secrets/vault.yaml');
  const kept = readFileSync(path);
  assert.deepEqual(await seeds(file, ['cp1', 'w1']), first);
  assert.deepEqual(readFileSync(path), kept);
});

test('rotate-token <node>: only that node\'s seed changes; with no node every joining node\'s does', async () => {
  const dir = tempDir();
  const file = config(dir);
  const a = await seeds(file);
  const r = await beside(['--config', file, 'secrets', 'rotate-token', 'w3']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /seeds change: w3\n/);
  assert.match(r.stdout, /kubeadm token create [a-z0-9]{6}\.[a-z0-9]{16} --ttl 604800s/);
  const b = await seeds(file);
  assert.deepEqual(Object.keys(a).filter((n) => JSON.stringify(a[n]) !== JSON.stringify(b[n])), ['w3']);
  const all = await beside(['--config', file, 'secrets', 'rotate-token']);
  assert.equal(all.code, 0, all.stderr);
  const c = await seeds(file);
  assert.deepEqual(Object.keys(b).filter((n) => JSON.stringify(b[n]) !== JSON.stringify(c[n])), ['cp1', 'cp2', 'w1', 'w2'], 'w3 keeps its own token');
  const unknown = await beside(['--config', file, 'secrets', 'rotate-token', 'w9']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /w9/);
});

test('an etcd member readdressed: render refuses the stale bundle naming it; secrets issue re-certifies that member only', async () => {
  const dir = tempDir();
  const file = config(dir);
  assert.equal((await beside(['--config', file, 'secrets', 'init'])).code, 0);
  const path = join(dir, '.imgforge/secrets/vault.yaml');
  const old = parse(readFileSync(path, 'utf8')) as { cas: unknown; etcdMembers: Record<string, { server: { cert: string } }> };
  const moved = config(dir, 'vault', '10.9.0.29/24');
  const out = join(tempDir(), 'w1');
  const r = await beside(['--config', moved, 'render', 'w1', '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /vault\.yaml/);
  assert.match(r.stderr, /the etcd certificates of w1 name .*IP:10\.9\.0\.21.*the config gives .*IP:10\.9\.0\.29/);
  assert.ok(!existsSync(out), 'nothing written');
  const issued = await beside(['--config', moved, 'secrets', 'issue']);
  assert.equal(issued.code, 0, issued.stderr);
  assert.match(issued.stdout, /issued etcd certificates for w1/);
  const now = parse(readFileSync(path, 'utf8')) as typeof old;
  assert.deepEqual(now.cas, old.cas, 'the CAs stay');
  assert.notEqual(now.etcdMembers['w1']!.server.cert, old.etcdMembers['w1']!.server.cert);
  assert.equal((await beside(['--config', moved, 'render', 'w1', '--out', out])).code, 0);
});

/** A bundle broken one way; each must be exit 2 naming the file, with nothing written and the file unchanged. */
const BROKEN: readonly [string, (path: string) => void, RegExp][] = [
  ['truncated', (p) => writeFileSync(p, readFileSync(p, 'utf8').slice(0, 3000)), /not a whole secrets bundle|not YAML/],
  ['another cluster\'s', (p) => writeFileSync(p, readFileSync(p, 'utf8').replace(/^cluster: vault$/m, 'cluster: other')), /belongs to cluster "other"/],
  ['a certificate its CA did not sign', (p) => {
    const b = parse(readFileSync(p, 'utf8')) as { etcdMembers: Record<string, Record<string, { cert: string; key: string }>>; cas: Record<string, { cert: string; key: string }> };
    b.etcdMembers['w1']!['server'] = b.cas['frontProxy']!;
    writeFileSync(p, stringify(b, { lineWidth: 0 }));
  }, /etcdMembers\.w1\.server: not signed by its CA/],
  ['a key that is not its certificate\'s', (p) => {
    const b = parse(readFileSync(p, 'utf8')) as Record<string, Record<string, Record<string, string>>>;
    b['cas']!['cluster']!['key'] = b['cas']!['etcd']!['key']!;
    writeFileSync(p, stringify(b, { lineWidth: 0 }));
  }, /cas\.cluster: the key is not the certificate's/],
  ['readable by the group', (p) => chmodSync(p, 0o640), /readable by its group \(mode 0640\)[\s\S]*chmod 600/],
  ['readable by others', (p) => chmodSync(p, 0o604), /readable by others/],
];

for (const [what, breakIt, says] of BROKEN) {
  test(`a bundle ${what}: exit 2 naming the file and the fault; nothing written, nothing regenerated`, async () => {
    const dir = tempDir();
    const file = config(dir);
    assert.equal((await beside(['--config', file, 'secrets', 'init'])).code, 0);
    const path = join(dir, '.imgforge/secrets/vault.yaml');
    breakIt(path);
    const broken = readFileSync(path);
    const out = join(tempDir(), 'seed');
    for (const args of [['render', 'cp1', '--out', out], ['secrets', 'show'], ['secrets', 'init'], ['build', 'w2', '--out', out]]) {
      const r = await beside(['--config', file, ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.includes(path), `${args[0]} names the file: ${r.stderr}`);
      assert.match(r.stderr, says);
    }
    assert.ok(!existsSync(out));
    assert.deepEqual(readFileSync(path), broken);
  });
}

test('show without a bundle: exit 2, says how to make one; plan writes none', async () => {
  const dir = tempDir();
  const file = config(dir);
  const r = await beside(['--config', file, 'secrets', 'show']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /secrets init/);
  const plan = await beside(['--config', file, 'plan']);
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /secrets: not made yet/);
  assert.ok(!existsSync(join(dir, '.imgforge')));
});

test('the token TTL: check shows it; 0 is refused naming the field; an expired token is a warning on render', async () => {
  const dir = tempDir();
  const check = await beside(['--config', config(dir, 'vault', '10.9.0.21/24', '36h'), 'check']);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /\[bootstrap-token-ttl\] Nodes join with a bootstrap token valid for 36 hours/);
  const zero = await beside(['--config', config(dir, 'vault', '10.9.0.21/24', '0h'), 'check']);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /cluster\.bootstrapTokenTtl/);
  const file = config(dir);
  assert.equal((await beside(['--config', file, 'secrets', 'init'])).code, 0);
  const path = join(dir, '.imgforge/secrets/vault.yaml');
  writeFileSync(path, readFileSync(path, 'utf8').replace(/^( {2}expires: ).*$/m, '$1"2020-01-01T00:00:00.000Z"'));
  const r = await beside(['--config', file, 'render', 'w2', '--out', join(tempDir(), 'w2')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: w2: its bootstrap token [a-z0-9]{6} expired at 2020-01-01.*rotate-token w2/);
});
