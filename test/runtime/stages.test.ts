// The prepare, mounts and complete stages and the stage runner, run for real in a scratch root:
// check, apply, check again; a second run changes nothing; failures are events with reasons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readlinkSync } from 'node:fs';
import { Rig } from './rig.ts';
import { VM1_DOC, withLayout } from './machine.ts';

function prepared(): Rig {
  const rig = new Rig();
  rig.installNode(VM1_DOC);
  rig.write('etc/fstab', 'LABEL=cloudimg-rootfs\t/\text4\tdefaults\t0 1\n/swap.img\tnone\tswap\tsw\t0 0\n');
  rig.write('proc/swaps', 'Filename\tType\tSize\tUsed\tPriority\n/swap.img\tfile\t1048572\t0\t-2\n');
  rig.write('lib/systemd/system/fstrim.timer', '');
  rig.write('lib/systemd/system/systemd-time-wait-sync.service', '');
  rig.write('proc/sys/net/ipv4/ip_forward', '0\n');
  rig.write('proc/sys/fs/inotify/max_user_instances', '128\n');
  rig.write('proc/sys/fs/inotify/max_user_watches', '8192\n');
  return rig;
}

test('prepare: modules, sysctls, swap off and masked, time sync; a second run finds it done', () => {
  const rig = prepared();
  const r = rig.stage('prepare');
  assert.equal(r.status, 0, `${r.stderr}${JSON.stringify(rig.events())}`);
  for (const m of ['overlay', 'br_netfilter']) assert.ok(existsSync(rig.path(`sys/module/${m}`)), m);
  assert.equal(rig.read('proc/sys/net/ipv4/ip_forward').trim(), '1');
  assert.equal(rig.read('proc/sys/net/bridge/bridge-nf-call-iptables').trim(), '1');
  assert.match(rig.read('etc/fstab'), /^#\/swap\.img\tnone\tswap/m);
  assert.equal(readlinkSync(rig.path('etc/systemd/system/swap.target')), '/dev/null');
  assert.ok(existsSync(rig.path('etc/systemd/system/sysinit.target.wants/systemd-time-wait-sync.service')));
  assert.deepEqual(rig.calls('systemctl').map((c) => c.slice(1).filter((a) => !a.startsWith('-')).join(' ')).filter((c) => c.startsWith('restart')),
    ['restart systemd-journald', 'restart systemd-timesyncd']);
  assert.deepEqual(rig.events().map((e) => [e.state, e.changed]), [['begin', undefined], ['ok', true]]);
  rig.clearEvents();
  rig.clearCalls();
  assert.equal(rig.stage('prepare').status, 0);
  assert.deepEqual(rig.events().map((e) => [e.state, e.changed]), [['begin', undefined], ['ok', false]]);
  assert.deepEqual(rig.calls().filter((c) => ['modprobe', 'sysctl', 'swapoff', 'systemctl'].includes(c[0]!)), [], 'nothing applied twice');
});

test('prepare: a power cut at any step, and the next boot finishes the work', () => {
  const clean = prepared();
  assert.equal(clean.stage('prepare').status, 0);
  const steps = clean.calls().length;
  for (let cut = 1; cut <= steps; cut++) {
    const rig = prepared();
    assert.ok(rig.stage('prepare', { FAKE_CUT: String(cut) }).cut);
    // A reboot: modules and sysctls are gone from the kernel, what is on disk stays.
    rig.run(['sh', '-c', `rm -rf "${rig.path('sys/module')}"/* "${rig.path('proc/sys/net/bridge')}"; echo 0 >"${rig.path('proc/sys/net/ipv4/ip_forward')}"`]);
    rig.clearEvents();
    assert.equal(rig.stage('prepare').status, 0, `after a cut at step ${cut}`);
    assert.equal(rig.read('etc/fstab'), clean.read('etc/fstab'), `after a cut at step ${cut}`);
    assert.equal(rig.read('proc/sys/net/ipv4/ip_forward').trim(), '1');
  }
});

test('prepare: a missing required module fails the stage at once with its name; a missing optional one is a warning', () => {
  const rig = prepared();
  const r = rig.stage('prepare', { FAKE_NO_MODULES: 'br_netfilter' });
  assert.equal(r.status, 1);
  const fail = rig.events().at(-1)!;
  assert.deepEqual([fail.state, fail.msg], ['fail', 'kernel module br_netfilter is missing; Kubernetes needs it']);
  assert.equal(rig.events().filter((e) => e.state === 'retry').length, 0);
  const ok = prepared();
  assert.equal(ok.stage('prepare', { FAKE_NO_MODULES: 'rbd' }).status, 0, 'rbd is an add-on module, not required');
});

test('prepare: a sysctl this kernel lacks is a warning, not a stage that never passes', () => {
  const rig = prepared();
  rig.installNode({ ...VM1_DOC, kernel: { ...VM1_DOC.kernel, sysctls: [...VM1_DOC.kernel.sysctls, { key: 'vm.no_such_knob', value: '1' }] } });
  const r = rig.stage('prepare');
  assert.equal(r.status, 0, r.stderr);
  assert.ok(rig.events().some((e) => e.state === 'note' && e.msg === 'warning: this kernel has no sysctl vm.no_such_knob'));
});

test('mounts: each ext4 reserved partition gets its fstab line once and is mounted', () => {
  const rig = new Rig();
  rig.installNode(withLayout({ root: { size: '4GiB' }, reserved: [{ name: 'ceph', size: '3GiB' }, { name: 'longhorn', size: 'rest', format: 'ext4', mountpoint: '/var/lib/longhorn' }] }));
  assert.equal(rig.stage('mounts').status, 0);
  assert.match(rig.read('etc/fstab'), /^PARTLABEL=longhorn\t\/var\/lib\/longhorn\text4\tdefaults,nofail,x-systemd\.device-timeout=30s\t0\t2$/m);
  assert.doesNotMatch(rig.read('etc/fstab'), /ceph/);
  assert.deepEqual(rig.calls('mount').map((c) => c[1]), [rig.path('var/lib/longhorn')]);
  rig.clearCalls();
  rig.clearEvents();
  assert.equal(rig.stage('mounts').status, 0);
  assert.equal(rig.read('etc/fstab').match(/PARTLABEL=longhorn/g)!.length, 1);
  assert.deepEqual(rig.events().map((e) => e.changed).at(-1), false);
});

test('complete: ok when every stage succeeded this boot; otherwise a fail naming each stage that did not', () => {
  const rig = new Rig();
  rig.installNode(VM1_DOC);
  assert.equal(rig.stage('complete').status, 0);
  // Every stage but complete itself: layout, mounts, prepare and vm1's assembly stages.
  assert.equal(rig.events().at(-1)!.msg, `all ${VM1_DOC.stages.length - 1} stages succeeded`);
  assert.ok(VM1_DOC.stages.length - 1 > 3);
  rig.write('.fake/unit-imgforge-layout.service', 'ActiveState=failed\nResult=exit-code\n');
  rig.write('.fake/unit-imgforge-prepare.service', 'ActiveState=inactive\nResult=success\n');
  assert.equal(rig.stage('complete').status, 1);
  assert.equal(rig.events().at(-1)!.msg, 'failed or not run: layout (ActiveState=failed Result=exit-code) prepare (ActiveState=inactive Result=success)');
});

test('run-stage: no node data, an unknown stage and a timeout are fail events, not silence; a plain stop says nothing', () => {
  const rig = new Rig();
  // ExecStopPost= at every shutdown, even with the node's data gone.
  assert.equal(rig.run(['sh', `${process.cwd()}/runtime/usr/local/lib/imgforge/run-stage`, '--post', 'layout'], { SERVICE_RESULT: 'success' }).status, 0);
  assert.deepEqual(rig.events(), []);
  assert.equal(rig.stage('layout').status, 1);
  assert.match(rig.events().at(-1)!.msg!, /no node data at .*node\.env/);
  rig.installNode(VM1_DOC);
  assert.equal(rig.stage('nonesuch').status, 1);
  assert.match(rig.events().at(-1)!.msg!, /no script .*stages\/nonesuch\.sh/);
  // systemd ran ExecStopPost= after killing the stage at TimeoutStartSec=.
  assert.equal(rig.run(['sh', `${process.cwd()}/runtime/usr/local/lib/imgforge/run-stage`, '--post', 'layout'], { SERVICE_RESULT: 'timeout' }).status, 0);
  assert.deepEqual([rig.events().at(-1)!.stage, rig.events().at(-1)!.state, rig.events().at(-1)!.msg], ['layout', 'fail', 'timed out']);
});

test('run-stage waits for a bundle being installed, and refuses to run when the seed\'s bundle was refused', () => {
  const rig = new Rig();
  rig.installNode(VM1_DOC);
  rig.write('run/imgforge/refused', 'the bundle the seed pins (SHA-256 abc) could not be had');
  assert.equal(rig.stage('prepare').status, 1);
  assert.equal(rig.events().at(-1)!.msg, 'not run: the bundle the seed pins (SHA-256 abc) could not be had');
  assert.deepEqual(rig.calls('modprobe'), []);
  rig.run(['rm', '-f', rig.path('run/imgforge/refused')]);
  rig.write('run/imgforge/installing', '');
  const r = rig.stage('complete');
  assert.equal(r.status, 1);
  assert.match(rig.events().at(-1)!.msg!, /gave up waiting for the bundle install to finish/);
  assert.ok(rig.calls('sleep').length > 5, 'it polled');
});
