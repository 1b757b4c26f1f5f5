// Boot tests under QEMU (TCG here, KVM where present): the Debian base is built from packages,
// the node image from it, and `imgforge test` boots it and judges the node's own report. They
// take minutes, so they run in CI (CI=true) or when IMGFORGE_BOOT_TESTS=1.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cli, requireTool, ROOT, tempDir } from '../helpers.ts';

const enabled = process.env['CI'] === 'true' || process.env['IMGFORGE_BOOT_TESTS'] === '1';
const CONFIG = join(ROOT, 'test/fixtures/qemu.config.mjs');
// Shared by every boot test of a run (and by later runs on the same machine): the base takes minutes.
const CACHE = process.env['IMGFORGE_CACHE_DIR'] ?? join(ROOT, '.cache/imgforge');

interface TestResult {
  ok: boolean;
  boots: { name: string; outcome: string; timeline: { t: number; event: string }[] }[];
  verdicts: { boot: string; check: string; ok: boolean; detail: string }[];
}

async function vmTest(image: string, extra: string[]): Promise<TestResult> {
  const r = await cli(['--config', CONFIG, 'test', image, '--json', '--timeout', '900', ...extra]);
  const result = JSON.parse(r.stdout) as TestResult;
  const failed = result.verdicts.filter((v) => !v.ok).map((v) => `${v.boot}: ${v.check}: ${v.detail}`);
  assert.equal(r.code, result.ok ? 0 : 1);
  assert.ok(result.ok, `failed checks:\n${failed.join('\n')}\n${r.stderr}`);
  return result;
}

const checked = (r: TestResult, boot: string, check: string): void => {
  assert.ok(r.verdicts.some((v) => v.boot === boot && v.check === check && v.ok), `${boot}: ${check} was checked and passed`);
};

describe('boot tests', { skip: !enabled && 'set IMGFORGE_BOOT_TESTS=1 (CI runs them)', concurrency: false }, () => {
  let image = '';
  before(async () => {
    for (const t of ['qemu-system-x86_64', 'qemu-img', 'qemu-io', 'mmdebstrap', 'grub-mkstandalone']) requireTool(t);
    const out = tempDir();
    const r = await cli(['--config', CONFIG, 'build', 'vm1', '--out', out, '--cache-dir', CACHE, '--json']);
    assert.equal(r.code, 0, r.stderr);
    image = (JSON.parse(r.stdout) as { artifacts: { image: string }[] }).artifacts[0]!.image;
  });

  test('the node boots to its final marker and everything its seed promises holds, twice', async () => {
    const r = await vmTest(image, ['--plant-stale']);
    assert.deepEqual(r.boots.map((b) => [b.name, b.outcome]), [['first boot', 'done'], ['second boot', 'done']]);
    const first = r.boots[0]!.timeline.map((e) => e.event);
    for (const e of ['kernel', 'cloud-init local', 'cloud-init final', 'stage layout ok', 'stage prepare ok', 'first boot complete']) assert.ok(first.includes(e), `timeline has ${e}: ${first.join(', ')}`);
    for (const c of ['hostname', 'ssh key of ops', 'network-config', 'default route', 'dns', 'time sync', 'swap off', 'sysctl net.ipv4.ip_forward', 'module br_netfilter',
      'stage layout', 'stage prepare', 'backup GPT at the disk end', 'root size', 'root file system grown', 'partition ceph', 'partition ceph placement',
      'partition ceph raw', 'partition longhorn ext4 at /var/lib/longhorn', 'booted by uefi']) checked(r, 'first boot', c);
    checked(r, 'second boot', 'second boot changes nothing');
    checked(r, 'second boot', 'partition ceph raw');
  });

  test('legacy BIOS: the same image boots by SeaBIOS through GRUB\'s BIOS boot partition, and again after the layout stage', async () => {
    const r = await vmTest(image, ['--firmware', 'bios']);
    assert.deepEqual(r.boots.map((b) => [b.name, b.outcome]), [['first boot', 'done'], ['second boot', 'done']]);
    for (const c of ['booted by bios', 'stage layout', 'stage prepare', 'backup GPT at the disk end', 'partition ceph']) checked(r, 'first boot', c);
    checked(r, 'second boot', 'booted by bios');
    checked(r, 'second boot', 'second boot changes nothing');
  });

  test('power cut inside the repartition step: the next boot converges, each partition exists once', async () => {
    const r = await vmTest(image, ['--kill-at', 'imgforge: layout: created ceph']);
    assert.deepEqual(r.boots.map((b) => [b.name, b.outcome]), [['first boot', 'killed'], ['boot after power cut', 'done'], ['second boot', 'done']]);
    checked(r, 'boot after power cut', 'partition ceph');
    checked(r, 'boot after power cut', 'partition longhorn ext4 at /var/lib/longhorn');
    checked(r, 'second boot', 'second boot changes nothing');
  });

  // cloud-init writes its own files (runcmd's script among them) without fsync, so a cut here can
  // lose them: the bootcmd "files" stage rewrites and syncs ours on the next boot, and the resume
  // unit runs the stages runcmd would have.
  test('power cut inside cloud-init\'s final stage: the next boot finishes the work', async () => {
    const r = await vmTest(image, ['--kill-at', "running 'modules:final'"]);
    assert.deepEqual(r.boots.map((b) => [b.name, b.outcome]), [['first boot', 'killed'], ['boot after power cut', 'done'], ['second boot', 'done']]);
    checked(r, 'boot after power cut', 'stage prepare');
    checked(r, 'second boot', 'second boot changes nothing');
  });
});
