// A control plane's secrets on first boot, run for real against a scratch root: the tar beside
// the bundle on CIDATA is verified, installed 0600, then overwritten and removed from CIDATA
// while meta-data (the instance) stays; later boots find them installed; a power cut anywhere
// converges; a tampered tar installs nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadCluster } from '../../src/config/index.ts';
import { planCluster } from '../../src/plan/index.ts';
import { loadRuntime } from '../../src/render/runtime.ts';
import { loadTemplates } from '../../src/render/templates.ts';
import { createSecrets } from '../../src/secrets/create.ts';
import { loadPackageSources } from '../../src/plan/packages.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { Rig } from './rig.ts';

const cluster = await loadCluster(join(ROOT, 'test/fixtures/qemu.config.mjs'));
const secrets = await createSecrets({ ...cluster, config: { ...cluster.config, cluster: { ...cluster.config.cluster, encryptionAlgorithm: 'ECDSA-P256' } } } as typeof cluster, Date.now());
const inputs = { templates: await loadTemplates(), runtime: await loadRuntime(), packages: await loadPackageSources(), version: 'test', secrets };
const planned = await planCluster(cluster, ['vm1'], inputs);
const bundle = planned.bundles.get('vm1')!;
const pack = planned.secrets.get('vm1')!;
const seed = planned.seeds.get('vm1')!;
const item = (parseYaml(seed.find((f) => f.name === 'user-data')!.content as string) as { bootcmd: string[][] }).bootcmd[0]!;
const META = seed.find((f) => f.name === 'meta-data')!.content as string;

/** A CIDATA folder as the image has it: the four seed files' meta-data, the bundle, the secrets. */
function cidata(secretsTar: Buffer = pack.tar): { dir: string; witness: string } {
  const dir = tempDir('imgforge-cidata-');
  writeFileSync(join(dir, 'meta-data'), META);
  writeFileSync(join(dir, 'imgforge-bundle.tar'), bundle.tar);
  writeFileSync(join(dir, 'imgforge-secrets.tar'), secretsTar);
  // A second name for the same file: what its clusters hold once the name is gone.
  const witness = join(tempDir('imgforge-witness-'), 'secrets.tar');
  linkSync(join(dir, 'imgforge-secrets.tar'), witness);
  return { dir, witness };
}

const boot = (rig: Rig, dir: string, env: Record<string, string> = {}) =>
  rig.run(['sh', '-c', item[2]!, ...item.slice(3)], { FAKE_CIDATA: dir, FAKE_HOSTNAME: 'vm1', ...env });

function assertInstalled(rig: Rig, when: string): void {
  for (const f of pack.files) {
    assert.equal(rig.read(f.path.slice(1)), f.content, `${when}: ${f.path}`);
    assert.equal(statSync(rig.path(f.path.slice(1))).mode & 0o777, f.mode, `${when}: ${f.path} mode`);
  }
}

test('the plan pins the secrets: node.json names their digest, the bundle carries no key', () => {
  const doc = JSON.parse(bundle.files.find((f) => f.path === '/etc/imgforge/node.json')!.content) as { secrets: { sha256: string; bytes: number; files: string[] } };
  assert.deepEqual(doc.secrets.files, pack.files.map((f) => f.path));
  assert.equal(doc.secrets.sha256, createHash('sha256').update(pack.tar).digest('hex'));
  assert.equal(doc.secrets.bytes, pack.tar.length);
  assert.ok(pack.files.some((f) => f.path === '/etc/kubernetes/pki/ca.key' && f.mode === 0o600));
  assert.ok(!bundle.tar.includes('PRIVATE KEY'));
  assert.ok(seed.some((f) => f.name === 'imgforge-secrets.tar'));
});

test('first boot: secrets installed with their modes, in private folders; the tar overwritten and gone from CIDATA; meta-data untouched', () => {
  const rig = new Rig();
  const { dir, witness } = cidata();
  const r = boot(rig, dir);
  assert.equal(r.status, 0, r.stderr);
  assertInstalled(rig, 'first boot');
  assert.equal(statSync(rig.path('etc/kubernetes/pki')).mode & 0o777, 0o700);
  assert.equal(statSync(rig.path('etc/imgforge/secrets')).mode & 0o777, 0o700);
  assert.ok(!existsSync(join(dir, 'imgforge-secrets.tar')), 'gone from CIDATA');
  const left = readFileSync(witness);
  assert.equal(left.length, pack.tar.length);
  assert.ok(left.every((b) => b === 0), 'its bytes were overwritten before it went');
  assert.equal(readFileSync(join(dir, 'meta-data'), 'utf8'), META, 'the instance-id stays');
  assert.ok(existsSync(join(dir, 'imgforge-bundle.tar')));
  const notes = rig.events().map((e) => e.msg ?? '');
  assert.ok(notes.some((m) => /^removed the secrets from \/dev\/vdb$/.test(m)), notes.join('\n'));
  assert.ok(!existsSync(rig.path('run/imgforge/secrets.tar')));
});

test('a damaged install on a later boot, the secrets tar already gone: installed again, the secrets checked where they are', () => {
  const rig = new Rig();
  const { dir } = cidata();
  assert.equal(boot(rig, dir).status, 0);
  rig.write('usr/local/lib/imgforge/run-stage', 'damaged');
  rig.clearEvents();
  assert.equal(boot(rig, dir).status, 0);
  assert.equal(rig.events().at(-1)!.state, 'ok');
  assertInstalled(rig, 'reinstalled');
  // A secret changed on the node since: the install refuses rather than start with it.
  rig.write('usr/local/lib/imgforge/run-stage', 'damaged');
  rig.write('etc/kubernetes/pki/ca.crt', 'not the CA');
  rig.clearEvents();
  boot(rig, dir);
  const ev = rig.events().at(-1)!;
  assert.deepEqual([ev.stage, ev.state], ['bundle', 'fail']);
  assert.match(ev.msg!, /the node's secrets \(SHA-256 [0-9a-f]{64}\) are neither beside the bundle nor installed/);
});

test('a secrets tar that is not the pinned one installs nothing and stays on CIDATA', () => {
  const rig = new Rig();
  const { dir } = cidata(Buffer.from(pack.tar).fill(0x41, 700, 701));
  boot(rig, dir);
  const ev = rig.events().at(-1)!;
  assert.deepEqual([ev.stage, ev.state], ['bundle', 'fail']);
  assert.ok(!existsSync(rig.path('etc/kubernetes/pki/ca.key')) && !existsSync(rig.path('var/lib/imgforge/bundle.sha256')));
  assert.ok(existsSync(join(dir, 'imgforge-secrets.tar')));
});

test('a power cut at any step of the install: the next boot ends with the secrets installed and CIDATA scrubbed', () => {
  const clean = new Rig();
  assert.equal(boot(clean, cidata().dir).status, 0);
  const steps = clean.calls().length;
  for (let cut = 1; cut <= steps; cut++) {
    const rig = new Rig();
    const { dir } = cidata();
    assert.ok(boot(rig, dir, { FAKE_CUT: String(cut) }).cut, `cut at step ${cut}`);
    rig.run(['rm', '-rf', rig.path('run/imgforge')]);
    mkdirSync(rig.path('run'), { recursive: true });
    assert.equal(boot(rig, dir).status, 0, `after a cut at step ${cut}`);
    assertInstalled(rig, `after a cut at step ${cut}`);
    assert.ok(!existsSync(join(dir, 'imgforge-secrets.tar')), `after a cut at step ${cut}: CIDATA scrubbed`);
  }
});
