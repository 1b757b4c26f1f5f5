// The arm64 side of `imgforge test` without booting: the machine, CPU and firmware the plan
// chooses and says, QEMU's arguments, a board QEMU does not emulate substituted out loud, and the
// environment errors for a missing qemu-system-aarch64, AAVMF or qemu-user.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCluster } from '../../src/config/index.ts';
import type { ResolvedNode } from '../../src/config/resolve.ts';
import { isImgforgeError } from '../../src/errors/error.ts';
import { qemuArgs } from '../../src/plan/vm.ts';
import { describeMachine } from '../../src/plan/vm-machine.ts';
import { planVmTest, type TestRequest } from '../../src/plan/vm-test.ts';
import { requireArchRuns } from '../../src/tools/bootstrap-tools.ts';
import { requireFirmwareFiles } from '../../src/tools/qemu.ts';
import { fakeImage } from '../fixtures/fake-image.ts';
import { cli, ROOT, tempDir } from '../helpers.ts';

const CONFIG = join(ROOT, 'test/fixtures/qemu-arm64.config.mjs');
const REQ: TestRequest = { diskBytes: 16 * 2 ** 30, timeoutSeconds: 900, accel: 'auto', plantStale: false, plantOsd: false, memoryMiB: 2048, cpus: 2 };
const IMAGE = { sizeBytes: 2 ** 30, rootFirstLba: 133120 };
const arm1 = async (): Promise<ResolvedNode> => (await loadCluster(CONFIG)).nodes[0]!;

test('an arm64 UEFI node boots on virt with -cpu max,pauth-impdef=on under TCG and AAVMF from pflash; the plan says why', async () => {
  const plan = planVmTest(await arm1(), REQ, { kvm: false }, IMAGE, 'ops');
  const { why, ...machine } = plan.machine;
  assert.deepEqual(machine, {
    qemu: 'qemu-system-aarch64', pkg: 'qemu-system-arm', machine: 'virt', cpu: 'max,pauth-impdef=on', accel: 'tcg',
    firmware: { kind: 'uefi', code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: '/usr/share/AAVMF/AAVMF_VARS.fd', pkg: 'qemu-efi-aarch64' },
    console: 'ttyAMA0', substitute: null,
  });
  assert.equal(plan.firmware, 'uefi');
  assert.ok(why.some((w) => /QARMA5/.test(w)) && why.some((w) => /64 MiB/.test(w)), why.join('\n'));
  assert.equal(planVmTest(await arm1(), REQ, { kvm: true }, IMAGE, 'ops').machine.cpu, 'host', 'KVM on an arm64 host runs its own CPU');
  assert.deepEqual(describeMachine('arm1', plan.machine)[0],
    'arm1 boots on qemu-system-aarch64 -machine virt -cpu max,pauth-impdef=on (TCG), UEFI from /usr/share/AAVMF/AAVMF_CODE.fd with a copy of /usr/share/AAVMF/AAVMF_VARS.fd (qemu-efi-aarch64); console ttyAMA0');
});

test('legacy BIOS is refused for an arm64 node: a flag error naming what it boots by', async () => {
  const node = await arm1();
  assert.throws(() => planVmTest(node, { ...REQ, firmware: 'bios' }, { kvm: false }, IMAGE, 'ops'),
    (e: Error & { code?: string }) => e.code === 'BadFlag' && /--firmware bios: arm64-debian images boot in QEMU by uefi/.test(e.message));
});

test('QEMU\'s arguments for arm64: virt, the TCG CPU, AAVMF code read-only and the vars copy in pflash, virtio disk, NIC and event port', () => {
  const spec = { arch: 'arm64', firmware: 'uefi', disk: 'd.qcow2', code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: 'vars.fd', kvm: false, memoryMiB: 2048, cpus: 2, mac: '52:54:00:12:34:58', qmp: 'q.sock', events: 'ev' } as const;
  const args = qemuArgs(spec).join(' ');
  assert.match(args, /^-machine virt -cpu max,pauth-impdef=on -accel tcg,thread=multi -m 2048 -smp 2 /);
  assert.match(args, /-drive if=pflash,format=raw,unit=0,readonly=on,file=\/usr\/share\/AAVMF\/AAVMF_CODE\.fd -drive if=pflash,format=raw,unit=1,file=vars\.fd /);
  assert.match(args, /-drive file=d\.qcow2,format=qcow2,if=virtio -nic user,model=virtio-net-pci,restrict=on,mac=52:54:00:12:34:58 /);
  assert.match(args, /-device virtserialport,bus=vser0\.0,chardev=events,name=org\.imgforge\.events/);
  assert.match(qemuArgs({ ...spec, kvm: true }).join(' '), /^-machine virt -cpu host -accel kvm /);
  assert.match(qemuArgs({ ...spec, arch: 'amd64' }).join(' '), /^-machine q35 -accel tcg,thread=multi /, 'x86 keeps QEMU\'s default CPU');
});

/** A folder of board profiles, and a config whose one node runs on the first. */
function boardConfig(profiles: Record<string, string>, board: string): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'profiles'));
  for (const [name, text] of Object.entries(profiles)) writeFileSync(join(dir, 'profiles', `${name}.yaml`), text);
  const config = join(dir, 'images.config.mjs');
  writeFileSync(config, `import base from ${JSON.stringify(CONFIG)};
export default { ...base, profileDirs: [${JSON.stringify(join(dir, 'profiles'))}], nodes: [{ ...base.nodes[0], board: ${JSON.stringify(board)} }] };\n`);
  return config;
}

test('a board QEMU does not emulate (it names a device tree) boots on virt by its UEFI path, and the plan says what that leaves untested', async () => {
  const config = boardConfig({ sbc: 'name: sbc\nextends: arm64-debian\ntitle: Some RK3568 board\nboot: { deviceTree: rockchip/rk3568-some.dtb, console: "ttyS2,1500000n8" }\n' }, 'sbc');
  const plan = planVmTest((await loadCluster(config)).nodes[0]!, REQ, { kvm: false }, IMAGE, 'ops');
  assert.equal(plan.machine.machine, 'virt');
  assert.equal(plan.machine.substitute, 'sbc (Some RK3568 board) runs as QEMU\'s virt machine: QEMU does not emulate the board, so this tests the image\'s UEFI boot, kernel, seed and first-boot stages, not the board\'s own firmware, device tree (rockchip/rk3568-some.dtb), drivers or console (ttyS2,1500000n8; here ttyAMA0)');
  assert.match(describeMachine('arm1', plan.machine).join('\n'), /\n {2}instead of its board: sbc \(Some RK3568 board\) runs as QEMU's virt machine/);
});

test('a board started only by its own U-Boot is refused with the reason (exit 3)', async () => {
  const config = boardConfig({ vendor: 'name: vendor\nextends: arm64-debian\ntitle: Vendor U-Boot board\nboot: { firmware: [u-boot] }\n' }, 'vendor');
  const r = await cli(['--config', config, 'test', fakeImage('arm1')]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /Booting vendor images in QEMU \(they start from the board's own U-Boot/);
});

async function withPathOnly<T>(dir: string, f: () => Promise<T>): Promise<T> {
  const old = process.env['PATH'];
  process.env['PATH'] = dir;
  try { return await f(); } finally { process.env['PATH'] = old; }
}

test('a missing qemu-system-aarch64 or AAVMF is an environment error naming its Debian package (exit 4)', async () => {
  const bin = tempDir('imgforge-noqemu-');
  for (const t of ['qemu-img', 'qemu-io']) {
    const found = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(found, join(bin, t));
  }
  const r = await withPathOnly(bin, () => cli(['--config', CONFIG, 'test', fakeImage('arm1'), '--timeout', '5']));
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /qemu-system-aarch64 is not installed\.\nhint: Install the Debian\/Ubuntu package qemu-system-arm/);
  const missing = { kind: 'uefi', code: '/nonexistent/AAVMF_CODE.fd', vars: '/nonexistent/AAVMF_VARS.fd', pkg: 'qemu-efi-aarch64' } as const;
  assert.throws(() => requireFirmwareFiles(missing), (e: unknown) => isImgforgeError(e) && e.exitCode === 4
    && e.message === '/nonexistent/AAVMF_CODE.fd is not installed.' && e.hint === 'Install the Debian/Ubuntu package qemu-efi-aarch64 (apt-get install qemu-efi-aarch64).');
});

test('a foreign base on a host that cannot run its programs is an environment error naming qemu-user-static (exit 4)', async () => {
  const bin = tempDir('imgforge-archtest-');
  writeFileSync(join(bin, 'arch-test'), '#!/bin/sh\necho "$1: not supported on this machine/kernel"\nexit 1\n');
  chmodSync(join(bin, 'arch-test'), 0o755);
  await assert.rejects(withPathOnly(`${bin}:/usr/bin:/bin`, () => requireArchRuns('arm64')), (e: unknown) => isImgforgeError(e) && e.code === 'ForeignArch' && e.exitCode === 4
    && /this \S+ machine cannot run arm64 programs \(arch-test: arm64: not supported on this machine\/kernel\)/.test(e.message) && /qemu-user-static and binfmt-support/.test(e.hint ?? ''));
});
