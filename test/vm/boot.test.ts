// Boot tests under QEMU (TCG here, KVM where present): the Debian base is built from packages,
// the node images from it, and `imgforge test` boots them and judges the nodes' events. They
// take minutes, so they run in CI (CI=true) or when IMGFORGE_BOOT_TESTS=1.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, requireTool, ROOT, tempDir } from '../helpers.ts';

const enabled = process.env['CI'] === 'true' || process.env['IMGFORGE_BOOT_TESTS'] === '1';
// Shared by every boot test of a run (and by later runs on the same machine): the base takes minutes.
const CACHE = process.env['IMGFORGE_CACHE_DIR'] ?? join(ROOT, '.cache/imgforge');

interface TestResult {
  ok: boolean;
  boots: { name: string; outcome: string; timeline: { t: number; event: string }[] }[];
  verdicts: { boot: string; check: string; ok: boolean; detail: string }[];
}

const checked = (r: TestResult, boot: string, check: string): void => {
  assert.ok(r.verdicts.some((v) => v.boot === boot && v.check === check && v.ok), `${boot}: ${check} was checked and passed`);
};

describe('boot tests', { skip: !enabled && 'set IMGFORGE_BOOT_TESTS=1 (CI runs them)', concurrency: false }, () => {
  const images: Record<string, string> = {};
  let config = '';
  let key = '';
  before(async () => {
    for (const t of ['qemu-system-x86_64', 'qemu-img', 'qemu-io', 'mmdebstrap', 'grub-mkstandalone', 'ssh', 'ssh-keygen']) requireTool(t);
    // The fixture with a key of this run's own, so the test can log in over SSH.
    const dir = tempDir();
    key = join(dir, 'id_ed25519');
    assert.equal(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ops@boot-test', '-f', key]).status, 0);
    const pub = spawnSync('cat', [`${key}.pub`], { encoding: 'utf8' }).stdout.trim();
    config = join(dir, 'images.config.mjs');
    writeFileSync(config, `import base from ${JSON.stringify(join(ROOT, 'test/fixtures/qemu.config.mjs'))};\nexport default { ...base, users: [{ name: 'ops', sshAuthorizedKeys: [${JSON.stringify(pub)}] }] };\n`);
    const r = await cli(['--config', config, 'build', 'vm1', 'vm2', '--out', join(dir, 'out'), '--cache-dir', CACHE, '--json']);
    assert.equal(r.code, 0, r.stderr);
    for (const a of (JSON.parse(r.stdout) as { artifacts: { node: string; image: string }[] }).artifacts) images[a.node] = a.image;
  });

  async function vmTest(node: string, extra: string[]): Promise<TestResult> {
    const r = await cli(['--config', config, 'test', images[node]!, '--json', '--timeout', '900', ...extra]);
    const result = JSON.parse(r.stdout) as TestResult;
    const failed = result.verdicts.filter((v) => !v.ok).map((v) => `${v.boot}: ${v.check}: ${v.detail}`);
    assert.equal(r.code, result.ok ? 0 : 1);
    assert.ok(result.ok, `failed checks:\n${failed.join('\n')}\n${r.stderr}`);
    return result;
  }

  test('vm1 by UEFI: everything its plan promises holds; a stale signature is wiped; a live OSD survives losing /var/lib/imgforge', async () => {
    const r = await vmTest('vm1', ['--plant-stale', '--plant-osd', '--ssh-key', key]);
    assert.deepEqual(r.boots.map((b) => [b.name, b.outcome]), [['first boot', 'done'], ['second boot', 'done']]);
    const first = r.boots[0]!.timeline.map((e) => e.event);
    for (const e of ['kernel', 'cloud-init local', 'cloud-init final', 'layout ok', 'mounts ok', 'prepare ok', 'complete ok']) {
      assert.ok(first.some((x) => x.startsWith(e)), `timeline has ${e}: ${first.join(', ')}`);
    }
    assert.ok(first.some((x) => x.startsWith('bundle ok installed bundle')), 'the bundle was installed');
    for (const c of ['hostname', 'ssh key of ops', 'network-config', 'default route', 'dns', 'time sync', 'swap off', 'sysctl net.ipv4.ip_forward', 'module br_netfilter',
      'stage layout', 'stage mounts', 'stage prepare', 'stage complete', 'backup GPT at the disk end', 'root size', 'root file system grown', 'partition ceph',
      'partition ceph placement', 'partition ceph type', 'partition ceph raw', 'partition longhorn ext4 at /var/lib/longhorn', 'booted by uefi',
      'ssh as ops, OSD label planted', 'secret /etc/kubernetes/pki/ca.key', 'secret /etc/kubernetes/pki/ca.crt', 'secret /etc/imgforge/secrets/bootstrap-token',
      'secrets match their pinned digests', 'secrets removed from CIDATA']) checked(r, 'first boot', c);
    checked(r, 'second boot', 'a later boot changes nothing');
    checked(r, 'second boot', 'partition ceph keeps its OSD');
    checked(r, 'second boot', 'stage layout');
  });

  test('vm2 by legacy BIOS: no reserved partition, a root file system over 2 GiB grows to its declared end, not the disk\'s', async () => {
    const r = await vmTest('vm2', ['--firmware', 'bios']);
    assert.deepEqual(r.boots.map((b) => [b.name, b.outcome]), [['first boot', 'done'], ['second boot', 'done']]);
    for (const c of ['booted by bios', 'root size', 'root file system grown', 'backup GPT at the disk end', 'stage layout', 'stage prepare',
      'secret /etc/imgforge/secrets/bootstrap-token', 'secrets removed from CIDATA']) checked(r, 'first boot', c);
    checked(r, 'second boot', 'booted by bios');
    checked(r, 'second boot', 'root size');
    checked(r, 'second boot', 'a later boot changes nothing');
  });

  test('power cut right after the table write, before the wipe: the next boot wipes what is pending and converges', async () => {
    const r = await vmTest('vm1', ['--kill-at', 'imgforge: layout: .*created ceph']);
    assert.deepEqual(r.boots.map((b) => [b.name, b.outcome]), [['first boot', 'killed'], ['boot after power cut', 'done'], ['second boot', 'done']]);
    for (const c of ['partition ceph', 'partition ceph type', 'partition ceph raw', 'partition longhorn ext4 at /var/lib/longhorn']) checked(r, 'boot after power cut', c);
    checked(r, 'second boot', 'a later boot changes nothing');
  });

  // cloud-init writes its own files without fsync, so a cut here can lose them; imgforge's bundle
  // was synced before its marker, and systemd starts the stages at the next boot by itself.
  test('power cut inside cloud-init\'s final stage: the next boot finishes the work', async () => {
    const r = await vmTest('vm1', ['--kill-at', "running 'modules:final'"]);
    assert.deepEqual(r.boots.map((b) => [b.name, b.outcome]), [['first boot', 'killed'], ['boot after power cut', 'done'], ['second boot', 'done']]);
    checked(r, 'boot after power cut', 'stage prepare');
    checked(r, 'boot after power cut', 'stage complete');
    checked(r, 'second boot', 'a later boot changes nothing');
  });
});
