// The boot harness's decisions, without booting: the QEMU arguments for each firmware, the
// verdict on how the node was started, and the boards and flags `imgforge test` refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { judgeReport, parseReport } from '../../src/plan/expect.ts';
import { seedContext } from '../../src/plan/context.ts';
import { qemuArgs, type VmSpec } from '../../src/plan/vm.ts';
import { loadCluster } from '../../src/config/index.ts';
import { kvmCanRun, kvmUsable } from '../../src/tools/qemu.ts';
import { cli, ROOT, tempDir } from '../helpers.ts';

const CONFIG = join(ROOT, 'test/fixtures/qemu.config.mjs');
const vm: VmSpec = { arch: 'amd64', firmware: 'uefi', disk: 'd.qcow2', code: 'CODE.fd', vars: 'VARS.fd', kvm: false, memoryMiB: 2048, cpus: 2, mac: null, qmp: 'q.sock' };

test('UEFI boots from OVMF in pflash; legacy BIOS leaves QEMU its SeaBIOS', () => {
  const uefi = qemuArgs(vm).join(' ');
  assert.match(uefi, /if=pflash,format=raw,unit=0,readonly=on,file=CODE\.fd/);
  assert.match(uefi, /if=pflash,format=raw,unit=1,file=VARS\.fd/);
  const bios = qemuArgs({ ...vm, firmware: 'bios' }).join(' ');
  assert.doesNotMatch(bios, /pflash/);
  assert.match(bios, /-machine q35 .*-drive file=d\.qcow2,format=qcow2,if=virtio/);
});

test('the report says which firmware started the kernel, and a mismatch fails the check', async () => {
  const cluster = await loadCluster(CONFIG);
  const node = cluster.nodes[0]!;
  const ctx = seedContext(cluster, node);
  const report = (fw: string) => parseReport(['imgforge: report hostname vm1', `imgforge: report firmware ${fw}`, 'imgforge: report end boot'], 'boot')!;
  const verdict = (fw: string, want: 'uefi' | 'bios') => judgeReport(ctx, node.profile.layout, report(fw), [], want).find((v) => v.check === `booted by ${want}`)!;
  assert.equal(verdict('bios', 'bios').ok, true);
  assert.equal(verdict('uefi', 'bios').ok, false);
  assert.match(verdict('uefi', 'bios').detail, /started by uefi/);
  assert.equal(judgeReport(ctx, node.profile.layout, report('bios'), []).some((v) => v.check.startsWith('booted by')), false, 'no firmware asked, none judged');
});

function fakeImage(node: string): string {
  const dir = tempDir();
  const image = join(dir, `${node}.img`);
  writeFileSync(image, Buffer.alloc(4096));
  writeFileSync(join(dir, `${node}.manifest.json`), JSON.stringify({ node }));
  return image;
}

test('a firmware the board does not boot by is a flag error naming the choices', async () => {
  const r = await cli(['--config', CONFIG, 'test', fakeImage('vm1'), '--firmware', 'u-boot']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--firmware u-boot: x86-debian images boot in QEMU by uefi or bios/);
});

test('--accel takes auto, kvm or tcg; KVM is never chosen for a guest of another architecture', async () => {
  const r = await cli(['--config', CONFIG, 'test', fakeImage('vm1'), '--accel', 'hvf']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--accel takes auto, kvm or tcg, not "hvf"/);
  assert.equal(kvmUsable(process.arch === 'arm64' ? 'amd64' : 'arm64'), false);
  const intel = 'processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae vmx sse2\n';
  const amd = 'processor\t: 0\nflags\t\t: fpu vme de pse svm sse2\n';
  // A sandbox with a /dev/kvm but no virtualization flag: QEMU starts, the guest never runs.
  const sandbox = 'processor\t: 0\nflags\t\t: fpu vme de pse sse2\nvmx flags\t: none\n';
  assert.equal(kvmCanRun('amd64', { arch: 'x64', devKvm: true, cpuinfo: intel }), true);
  assert.equal(kvmCanRun('amd64', { arch: 'x64', devKvm: true, cpuinfo: amd }), true);
  assert.equal(kvmCanRun('amd64', { arch: 'x64', devKvm: true, cpuinfo: sandbox }), false);
  assert.equal(kvmCanRun('amd64', { arch: 'x64', devKvm: false, cpuinfo: intel }), false);
  assert.equal(kvmCanRun('arm64', { arch: 'x64', devKvm: true, cpuinfo: intel }), false);
  assert.equal(kvmCanRun('arm64', { arch: 'arm64', devKvm: true, cpuinfo: '' }), true);
  assert.match(qemuArgs({ ...vm, kvm: false }).join(' '), /-accel tcg,thread=multi/);
  assert.match(qemuArgs({ ...vm, kvm: true }).join(' '), /-accel kvm/);
});

test('ODROID images are refused with the reason (exit 3): QEMU does not emulate their boot chain', async () => {
  const r = await cli(['--config', join(ROOT, 'images.config.ts'), 'test', fakeImage('cp01')]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /odroid-m1 images in QEMU \(they start from the board's own U-Boot/);
});

test('the default route and DNS servers are judged against the network config', async () => {
  const cluster = await loadCluster(CONFIG);
  const node = cluster.nodes[0]!;
  const ctx = seedContext(cluster, node);
  const judge = (lines: string[]) => {
    const r = parseReport(['imgforge: report hostname vm1', ...lines.map((l) => `imgforge: report ${l}`), 'imgforge: report end boot'], 'boot')!;
    return Object.fromEntries(judgeReport(ctx, node.profile.layout, r, []).filter((v) => v.check === 'default route' || v.check === 'dns').map((v) => [v.check, v.ok]));
  };
  assert.deepEqual(judge(['route 10.0.2.2', 'dns 10.0.2.3']), { 'default route': true, dns: true });
  assert.deepEqual(judge(['route ', 'dns 10.255.255.53']), { 'default route': false, dns: false }, 'no route, the build host\'s resolver');
});

test('the timeline has the milestones once each and every imgforge stage line, in order', async () => {
  const { timeline } = await import('../../src/execute/vm-test.ts');
  const lines = ['[    0.000000] Linux version 6.1.0', 'cloud-init[1]: running \'init-local\' at x', 'imgforge: stage files: wrote 8 file(s)',
    'imgforge: stage layout begin', 'imgforge: layout: unchanged', 'imgforge: stage layout ok', 'Linux version 6.1.0 again',
    'imgforge: stage prepare failed: exit status 1'].map((text, t) => ({ t, text }));
  assert.deepEqual(timeline(lines).map((e) => e.event), ['kernel', 'cloud-init local', 'stage files: wrote 8 file(s)', 'stage layout begin',
    'layout: unchanged', 'stage layout ok', 'stage prepare failed: exit status 1']);
});
