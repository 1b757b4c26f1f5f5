// The arm64 boot test: the Debian arm64 base built from packages (mmdebstrap with the packages'
// setup run under qemu-user), a node image from it, and `imgforge test` booting it by UEFI
// (AAVMF) on qemu-system-aarch64's virt machine and judging the node's events. One run, its
// first and second boot, serves every assertion: TCG emulating arm64 on x86 is slow.
// Measured on the 2-core CI machine (TCG), nothing else running: 10.4 min from cold (the build
// 394 s, the base's bootstrap most of it; the test 232 s: first boot 135 s, second boot 96 s);
// 3.7 min with the base cached.
// It runs in CI (CI=true) or when IMGFORGE_BOOT_TESTS=1.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { probeBase } from '../../src/image/probe.ts';
import { cli, requireTool, ROOT, tempDir } from '../helpers.ts';

const enabled = process.env['CI'] === 'true' || process.env['IMGFORGE_BOOT_TESTS'] === '1';
// Shared with later runs on the same machine: the arm64 base takes minutes to build.
const CACHE = process.env['IMGFORGE_CACHE_DIR'] ?? join(ROOT, '.cache/imgforge');
const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';

interface TestResult {
  ok: boolean;
  machine: { qemu: string; machine: string; cpu: string | null; accel: string; firmware: { kind: string; code?: string; pkg: string }; substitute: string | null };
  boots: { name: string; outcome: string; seconds: number; timeline: { t: number; event: string }[] }[];
  verdicts: { boot: string; check: string; ok: boolean; detail: string }[];
}

describe('arm64 boot test', { skip: !enabled && 'set IMGFORGE_BOOT_TESTS=1 (CI runs it)', concurrency: false }, () => {
  let image = '';
  let result: TestResult;
  before(async () => {
    for (const t of ['qemu-system-aarch64', 'qemu-img', 'qemu-io', 'mmdebstrap', 'arch-test', 'grub-mkstandalone', 'ssh', 'ssh-keygen', 'mdir']) requireTool(t);
    const dir = tempDir();
    const key = join(dir, 'id_ed25519');
    assert.equal(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ops@boot-test', '-f', key]).status, 0);
    const pub = spawnSync('cat', [`${key}.pub`], { encoding: 'utf8' }).stdout.trim();
    const config = join(dir, 'images.config.mjs');
    writeFileSync(config, `import base from ${JSON.stringify(join(ROOT, 'test/fixtures/qemu-arm64.config.mjs'))};\nexport default { ...base, users: [{ name: 'ops', sshAuthorizedKeys: [${JSON.stringify(pub)}] }] };\n`);
    const t0 = performance.now();
    const built = await cli(['--config', config, 'build', 'arm1', '--out', join(dir, 'out'), '--cache-dir', CACHE, '--json']);
    assert.equal(built.code, 0, built.stderr);
    image = (JSON.parse(built.stdout) as { artifacts: { image: string }[] }).artifacts[0]!.image;
    const t1 = performance.now();
    const r = await cli(['--config', config, 'test', image, '--json', '--timeout', '1200', '--plant-stale', '--plant-osd', '--ssh-key', key]);
    result = JSON.parse(r.stdout) as TestResult;
    const failed = result.verdicts.filter((v) => !v.ok).map((v) => `${v.boot}: ${v.check}: ${v.detail}`);
    assert.equal(r.code, result.ok ? 0 : 1);
    assert.ok(result.ok, `failed checks:\n${failed.join('\n')}\n${r.stderr}`);
    process.stderr.write(`arm64 boot test: build ${((t1 - t0) / 1000).toFixed(0)} s, test ${((performance.now() - t1) / 1000).toFixed(0)} s (${result.boots.map((b) => `${b.name} ${b.seconds.toFixed(0)} s`).join(', ')})\n`);
  });

  test('the image carries its standalone GRUB at the AArch64 removable path of its ESP', () => {
    const esp = probeBase(image).partitions.find((p) => p.type === ESP_TYPE);
    assert.ok(esp, 'the image has an ESP');
    const dir = spawnSync('mdir', ['-b', '-i', `${image}@@${esp.firstLba * 512}`, '::/EFI/BOOT'], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    assert.equal(dir.status, 0, dir.stderr);
    assert.match(dir.stdout, /BOOTAA64\.EFI/i);
  });

  test('it booted on qemu-system-aarch64\'s virt machine by AAVMF, as planned', () => {
    assert.deepEqual([result.machine.qemu, result.machine.machine, result.machine.firmware.kind, result.machine.firmware.code, result.machine.firmware.pkg, result.machine.substitute],
      ['qemu-system-aarch64', 'virt', 'uefi', '/usr/share/AAVMF/AAVMF_CODE.fd', 'qemu-efi-aarch64', null]);
    assert.deepEqual(result.boots.map((b) => [b.name, b.outcome]), [['first boot', 'done'], ['second boot', 'done']]);
    const first = result.boots[0]!.timeline.map((e) => e.event);
    for (const e of ['firmware', 'kernel', 'cloud-init local', 'cloud-init final', 'layout ok', 'mounts ok', 'prepare ok', 'complete ok']) {
      assert.ok(first.some((x) => x.startsWith(e)), `timeline has ${e}: ${first.join(', ')}`);
    }
  });

  test('everything its plan promises holds on the first boot, and the second boot changes nothing', () => {
    const checked = (boot: string, check: string): void => {
      assert.ok(result.verdicts.some((v) => v.boot === boot && v.check === check && v.ok), `${boot}: ${check} was checked and passed`);
    };
    for (const c of ['booted by uefi', 'hostname', 'ssh key of ops', 'network-config', 'default route', 'dns', 'time sync', 'swap off', 'sysctl net.ipv4.ip_forward',
      'module br_netfilter', 'stage layout', 'stage mounts', 'stage prepare', 'stage complete', 'backup GPT at the disk end', 'root size', 'root file system grown',
      'partition ceph', 'partition ceph placement', 'partition ceph type', 'partition ceph raw', 'partition longhorn ext4 at /var/lib/longhorn',
      'ssh as ops, OSD label planted', 'secrets removed from CIDATA']) checked('first boot', c);
    for (const c of ['booted by uefi', 'a later boot changes nothing', 'partition ceph keeps its OSD', 'stage layout', 'root size']) checked('second boot', c);
  });
});

// The bundled example's ODROID-M1 control plane, cp01: its seed, bundle, secrets, layout and
// addresses, on QEMU's virt machine (imgforge test says so in its plan), from the Debian arm64 base
// instead of Ubuntu's cloud image, which cannot be downloaded here (test/fixtures/qemu-odroid.config.mjs).
// Measured: 3.4 min (the build takes seconds from the base the case above cached; two boots).
describe('arm64 boot test: the bundled example\'s ODROID-M1 node', { skip: !enabled && 'set IMGFORGE_BOOT_TESTS=1 (CI runs it)', concurrency: false }, () => {
  test('cp01 runs as QEMU\'s virt machine, said in the plan, and everything else its plan promises holds', async () => {
    for (const t of ['qemu-system-aarch64', 'qemu-img', 'qemu-io', 'mmdebstrap', 'arch-test', 'grub-mkstandalone']) requireTool(t);
    const config = join(ROOT, 'test/fixtures/qemu-odroid.config.mjs');
    const built = await cli(['--config', config, 'build', 'cp01', '--out', join(tempDir(), 'out'), '--cache-dir', CACHE, '--json']);
    assert.equal(built.code, 0, built.stderr);
    const image = (JSON.parse(built.stdout) as { artifacts: { image: string }[] }).artifacts[0]!.image;
    const r = await cli(['--config', config, 'test', image, '--json', '--timeout', '1200', '--plant-stale']);
    const result = JSON.parse(r.stdout) as TestResult;
    const failed = result.verdicts.filter((v) => !v.ok).map((v) => `${v.boot}: ${v.check}: ${v.detail}`);
    assert.ok(result.ok, `failed checks:\n${failed.join('\n')}\n${r.stderr}`);
    assert.equal(r.code, 0);
    assert.deepEqual([result.machine.qemu, result.machine.machine, result.machine.firmware.kind], ['qemu-system-aarch64', 'virt', 'uefi']);
    assert.match(result.machine.substitute ?? '', /^odroid-m1 \(Hardkernel ODROID-M1 \(RK3568\).*\) runs as QEMU's virt machine: QEMU does not emulate the board/);
    assert.deepEqual(result.boots.map((b) => [b.name, b.outcome]), [['first boot', 'done'], ['second boot', 'done']]);
    for (const c of ['booted by uefi', 'hostname', 'network-config', 'default route', 'stage layout', 'stage prepare', 'stage complete', 'partition ceph raw', 'secrets removed from CIDATA']) {
      assert.ok(result.verdicts.some((v) => v.boot === 'first boot' && v.check === c && v.ok), `first boot: ${c} was checked and passed`);
    }
    assert.ok(result.verdicts.some((v) => v.boot === 'second boot' && v.check === 'a later boot changes nothing' && v.ok));
  });
});
