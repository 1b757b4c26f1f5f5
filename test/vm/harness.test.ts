// The boot harness without booting: QEMU's arguments, the verdicts judged from events, the flags
// `imgforge test` refuses, and the harness's own failure modes against a fake qemu-system that
// speaks the serial console, the event port and QMP the way QEMU does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { judgeReport, judgeSecrets, judgeStages, judgeUnchanged, reportOf } from '../../src/plan/judge.ts';
import { seedContext } from '../../src/plan/context.ts';
import { planStages } from '../../src/plan/stages.ts';
import { qemuArgs, type VmSpec } from '../../src/plan/vm.ts';
import { loadCluster } from '../../src/config/index.ts';
import { boot } from '../../src/execute/vm.ts';
import { timeline } from '../../src/execute/vm-test.ts';
import { PROTOCOL_VERSION, type Event } from '../../src/protocol/events.ts';
import { kvmCanRun, kvmUsable } from '../../src/tools/qemu.ts';
import { cli, ROOT, tempDir } from '../helpers.ts';
import { fakeImage } from '../fixtures/fake-image.ts';

const CONFIG = join(ROOT, 'test/fixtures/qemu.config.mjs');
const vm: VmSpec = { arch: 'amd64', firmware: 'uefi', disk: 'd.qcow2', code: 'CODE.fd', vars: 'VARS.fd', kvm: false, memoryMiB: 2048, cpus: 2, mac: null, qmp: 'q.sock', events: 'ev.jsonl' };
const ev = (stage: string, state: Event['state'], extra: Partial<Event> = {}): Event => ({ v: PROTOCOL_VERSION, node: 'vm1', boot: 'b', stage, state, time: '2026-12-01T00:00:00Z', up: 1, ...extra });
const facts = (lines: string[][]): Event[] => [...lines.map(([fact, ...value]) => ev('report', 'note', { fact, value })), ev('report', 'ok')];

test('UEFI boots from OVMF in pflash; legacy BIOS leaves QEMU its SeaBIOS; events come on a virtio-serial port', () => {
  const uefi = qemuArgs(vm).join(' ');
  assert.match(uefi, /if=pflash,format=raw,unit=0,readonly=on,file=CODE\.fd/);
  assert.match(uefi, /if=pflash,format=raw,unit=1,file=VARS\.fd/);
  assert.match(uefi, /-chardev file,id=events,path=ev\.jsonl -device virtserialport,bus=vser0\.0,chardev=events,name=org\.imgforge\.events/);
  const bios = qemuArgs({ ...vm, firmware: 'bios' }).join(' ');
  assert.doesNotMatch(bios, /pflash/);
  assert.match(bios, /-machine q35 .*-drive file=d\.qcow2,format=qcow2,if=virtio/);
  assert.match(qemuArgs({ ...vm, sshPort: 2222 }).join(' '), /restrict=on,hostfwd=tcp:127\.0\.0\.1:2222-:22/);
});

test('the report is read from events and judged: firmware, route and DNS', async () => {
  const cluster = await loadCluster(CONFIG);
  const node = cluster.nodes[0]!;
  const ctx = seedContext(cluster, node);
  const judge = (lines: string[][], fw?: 'uefi' | 'bios') => Object.fromEntries(judgeReport(ctx, node.profile.layout, reportOf(facts(lines))!, fw).map((v) => [v.check, v.ok]));
  assert.equal(judge([['hostname', 'vm1'], ['firmware', 'bios']], 'bios')['booted by bios'], true);
  assert.equal(judge([['hostname', 'vm1'], ['firmware', 'uefi']], 'bios')['booted by bios'], false);
  assert.equal(judge([['firmware', 'bios']])['booted by bios'], undefined, 'no firmware asked, none judged');
  assert.deepEqual([judge([['route', '10.0.2.2'], ['dns', '10.0.2.3']])['default route'], judge([['route', '10.0.2.2'], ['dns', '10.0.2.3']])['dns']], [true, true]);
  assert.deepEqual([judge([['route'], ['dns', '10.255.255.53']])['default route'], judge([['route'], ['dns', '10.255.255.53']])['dns']], [false, false]);
  assert.equal(reportOf([ev('report', 'note', { fact: 'hostname', value: ['vm1'] })]), undefined, 'an unfinished report is no report');
});

test('stages are judged by their last event; a later boot must change nothing', () => {
  const stages = planStages({ layout: { root: { size: { kind: 'rest' } }, reserved: [] }, assembly: null, workerEtcdMember: false });
  assert.deepEqual(stages.map((s) => s.name), ['layout', 'prepare', 'complete']);
  const v = judgeStages(stages, [ev('layout', 'begin'), ev('layout', 'retry', { msg: 'x' }), ev('layout', 'ok'), ev('prepare', 'fail', { msg: 'no br_netfilter' })]);
  assert.deepEqual(v.map((x) => [x.check, x.ok, x.detail]), [['stage layout', true, 'ok'], ['stage prepare', false, 'fail: no br_netfilter'], ['stage complete', false, 'never ran']]);
  assert.equal(judgeUnchanged([ev('layout', 'ok', { changed: false }), ev('prepare', 'ok', { changed: false })]).ok, true);
  const changed = judgeUnchanged([ev('layout', 'note', { msg: 'created ceph' }), ev('layout', 'ok', { changed: true })]);
  assert.deepEqual([changed.ok, changed.detail], [false, 'layout changed the machine; layout: created ceph']);
});

test('secrets are judged from the report: each file\'s mode, their digests, and CIDATA left without them', () => {
  const files = [{ path: '/etc/kubernetes/pki/ca.key', mode: 0o600 }, { path: '/etc/kubernetes/pki/ca.crt', mode: 0o644 }];
  const judge = (lines: string[][]) => Object.fromEntries(judgeSecrets(files, reportOf(facts(lines))!).map((v) => [v.check, v.ok]));
  const good = [['secret', '/etc/kubernetes/pki/ca.key', '600'], ['secret', '/etc/kubernetes/pki/ca.crt', '644'], ['secrets-digests', 'ok'], ['cidata-secrets', 'absent']];
  assert.deepEqual(judge(good), { 'secret /etc/kubernetes/pki/ca.key': true, 'secret /etc/kubernetes/pki/ca.crt': true, 'secrets match their pinned digests': true, 'secrets removed from CIDATA': true });
  const bad = judge([['secret', '/etc/kubernetes/pki/ca.key', '644'], ['secrets-digests', 'mismatch'], ['cidata-secrets', 'present']]);
  assert.deepEqual(Object.values(bad), [false, false, false, false], 'a key readable by all, a missing file, changed bytes, the tar still on CIDATA');
  assert.deepEqual(judgeSecrets([], reportOf(facts(good))!), [], 'a node given no secrets: nothing to judge');
});

test('the timeline has the console\'s milestones once each and every event, in order', () => {
  const lines = ['[    0.000000] Linux version 6.1.0', 'cloud-init[1]: running \'init-local\' at x', 'Linux version 6.1.0 again'].map((text, t) => ({ t, text }));
  const events = [ev('bundle', 'ok', { msg: 'installed' }), ev('layout', 'ok', { changed: false }), ev('report', 'note', { fact: 'x' })].map((event, i) => ({ t: i + 0.5, event }));
  assert.deepEqual(timeline(lines, events).map((e) => e.event), ['kernel', 'bundle ok installed', 'cloud-init local', 'layout ok (unchanged)']);
});

test('flags: a bad --kill-at regex, an unknown firmware or --accel, --plant-osd without a key are flag errors (exit 2)', async () => {
  const image = fakeImage('vm1');
  const cases: [string[], RegExp][] = [
    [['--kill-at', '('], /--kill-at takes a regular expression: Invalid regular expression/],
    [['--firmware', 'u-boot'], /option '--firmware <kind>' argument 'u-boot' is invalid\. Allowed choices are uefi, bios/],
    [['--accel', 'hvf'], /Allowed choices are auto, kvm, tcg/],
    [['--plant-osd'], /--plant-osd works on the running node over SSH: give --ssh-key/],
    [['--timeout', 'soon'], /--timeout takes a whole number, not "soon"/],
  ];
  for (const [flags, message] of cases) {
    const r = await cli(['--config', CONFIG, 'test', image, ...flags]);
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('KVM only where it can run the guest', () => {
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

/** A stand-in qemu-system-x86_64: prints console lines, appends events to the -chardev file, answers QMP as told. */
function fakeQemu(behaviour: 'healthy' | 'qmp-silent' | 'dies'): string {
  const bin = tempDir('imgforge-fakeqemu-');
  const script = `#!/usr/bin/env node
const net = require('node:net'); const fs = require('node:fs');
const args = process.argv.slice(2);
const events = /path=([^,]+)/.exec(args[args.indexOf('-chardev') + 1])[1];
const qmp = /unix:([^,]+)/.exec(args[args.indexOf('-qmp') + 1])[1];
const behaviour = ${JSON.stringify(behaviour)};
const ev = (stage, state) => fs.appendFileSync(events, JSON.stringify({ v: 1, node: 'vm1', boot: 'b', stage, state, time: 't', up: 1 }) + '\\n');
net.createServer((c) => {
  if (behaviour === 'qmp-silent') return;
  c.write('{"QMP": {}}\\n');
  c.on('data', () => { c.write('{"return": {}}\\n{"return": {}}\\n'); setTimeout(() => process.exit(0), 50); });
}).listen(qmp);
console.log('Linux version 6.1.0');
if (behaviour === 'dies') { fs.appendFileSync(events, '{"v":1,"node":"vm1","st'); setTimeout(() => process.exit(1), 100); }
else setTimeout(() => { ev('layout', 'ok'); ev('report', 'ok'); }, 100);
`;
  writeFileSync(join(bin, 'qemu-system-x86_64'), script);
  chmodSync(join(bin, 'qemu-system-x86_64'), 0o755);
  return bin;
}

async function withPath<T>(dir: string, f: () => Promise<T>): Promise<T> {
  const old = process.env['PATH'];
  process.env['PATH'] = `${dir}:${old}`;
  try { return await f(); } finally { process.env['PATH'] = old; }
}

const spec = (): VmSpec => { const d = tempDir(); return { ...vm, qmp: join(d, 'qmp.sock'), events: join(d, 'events') }; };

test('harness: done on the awaited event, then a clean power-off through QMP', async () => {
  const r = await withPath(fakeQemu('healthy'), () => boot(spec(), { timeoutMs: 20_000, doneOn: (e) => e.stage === 'report' && e.state === 'ok' }));
  assert.equal(r.outcome, 'done');
  assert.deepEqual(r.events.map((e) => e.event.stage), ['layout', 'report']);
});

test('harness: a QMP that never answers cannot hang the power-off', async () => {
  const t0 = performance.now();
  const r = await withPath(fakeQemu('qmp-silent'), () => boot(spec(), { timeoutMs: 60_000, doneOn: (e) => e.stage === 'report' }));
  assert.equal(r.outcome, 'done');
  assert.ok(performance.now() - t0 < 30_000, 'the QMP timeout, then SIGKILL');
});

test('harness: a torn event line is set aside, not thrown; a QEMU that dies says so', async () => {
  const r = await withPath(fakeQemu('dies'), () => boot(spec(), { timeoutMs: 20_000, doneOn: () => false }));
  assert.equal(r.outcome, 'exited');
  assert.deepEqual(r.rejected, []);
  assert.equal(r.events.length, 0);
});

test('harness: a missing qemu-system is an environment error naming its package (exit 4), not a failed boot', async () => {
  // qemu-img is there (the overlay is made), qemu-system is not.
  const bin = tempDir('imgforge-noqemu-');
  for (const t of ['qemu-img', 'qemu-io']) {
    const found = spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(found, join(bin, t));
  }
  await assert.rejects(withPathOnly(bin, () => boot(spec(), { timeoutMs: 1000 })), (e: Error & { code?: string }) => e.code === 'ToolMissing' && /qemu-system-x86_64/.test(e.message));
  const r = await withPathOnly(bin, () => cli(['--config', CONFIG, 'test', fakeImage('vm1'), '--timeout', '5']));
  assert.equal(r.code, 4, r.stderr);
  assert.match(r.stderr, /qemu-system-x86_64 is not installed\.\nhint: Install the Debian\/Ubuntu package qemu-system-x86/);
});

async function withPathOnly<T>(dir: string, f: () => Promise<T>): Promise<T> {
  const old = process.env['PATH'];
  process.env['PATH'] = dir;
  try { return await f(); } finally { process.env['PATH'] = old; }
}
