// The node's shell library, run for real under sh (dash here, as on Debian and Ubuntu) in a
// scratch root with recording command shims: events parse with the protocol's own parser,
// retries back off, deadlines hold by the boot clock, atomic writes fsync before and after the rename.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LIB, Rig } from './rig.ts';

/** Run shell code with the library sourced. */
function sh(rig: Rig, code: string, env: Record<string, string> = {}) {
  return rig.run(['sh', '-c', `IMGFORGE_LIB=${LIB}; . ${LIB}/lib.sh; STAGE=demo; ${code}`], env);
}

test('an event is one valid JSON line on the port and in the spool, and words on the console, whatever its message holds', () => {
  const rig = new Rig();
  const nasty = 'quote " backslash \\ tab \t newline \n bell \u0007 dollar $HOME `x` ünïcode';
  const r = sh(rig, 'EV_ATTEMPT=2 emit retry "$MSG"; EV_CHANGED=false emit ok; EV_FACT=part EV_VALUE="$(printf "ceph\\n4096\\n\\n/var/lib/x y")" emit note',
    { MSG: nasty, FAKE_HOSTNAME: 'vm1' });
  assert.equal(r.status, 0, r.stderr);
  const [retry, ok, fact] = rig.events();
  assert.deepEqual({ ...retry, time: '' }, { v: 1, node: 'vm1', boot: '6f1c1b0e-1111-4222-8333-444455556666', stage: 'demo', state: 'retry', time: '', up: 100, msg: nasty.replace('\u0007', ''), attempt: 2 });
  assert.match(retry!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(ok!.changed, false);
  assert.deepEqual([fact!.fact, fact!.value], ['part', ['ceph', '4096', '', '/var/lib/x y']]);
  assert.equal(rig.read('var/lib/imgforge/events.jsonl'), rig.read('dev/virtio-ports/org.imgforge.events'), 'the spool holds the same lines');
  assert.match(rig.read('dev/console'), /^imgforge: stage demo retry: quote/);
  assert.match(rig.read('dev/console'), /\nimgforge: stage demo ok\nimgforge: demo: \n$/);
  assert.equal(rig.calls('logger').length, 3, 'each event goes to the journal');
});

test('retry runs a command until it succeeds, doubling the wait up to the cap, and says why each try failed', () => {
  const rig = new Rig();
  // Fails three times, then succeeds; each failure leaves its reason.
  const r = sh(rig, 'n=0; flaky() { n=$((n + 1)); [ "$n" -gt 3 ] || { reason "try $n broke"; return 1; }; }; retry 5 2 5 flaky; echo "status $? after $n"');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /status 0 after 4/);
  assert.deepEqual(rig.calls('sleep').map((c) => c[1]), ['2', '4', '5']);
  assert.deepEqual(rig.events().map((e) => [e.state, e.attempt, e.msg]), [
    ['retry', 1, 'try 1 broke; next try in 2 s'], ['retry', 2, 'try 2 broke; next try in 4 s'], ['retry', 3, 'try 3 broke; next try in 5 s'],
  ]);
});

test('retry gives up after its attempts, and at once on a fatal status', () => {
  const rig = new Rig();
  const r = sh(rig, 'no() { return 1; }; retry 3 1 1 no; echo "a $? $RETRY_TRIES"; doom() { return 99; }; retry 3 1 1 doom; echo "b $? $RETRY_TRIES"');
  assert.match(r.stdout, /a 1 3\nb 99 1\n/);
  assert.equal(rig.calls('sleep').length, 2, 'two waits between three tries, none after a fatal one');
});

test('wait_for polls until the condition holds, and fails by the boot clock at its deadline', () => {
  const rig = new Rig();
  const late = sh(rig, 'wait_for 60 "the flag" test -e "$ROOT/flag"');
  assert.equal(late.status, 1);
  assert.match(late.stderr, /gave up waiting for the flag/);
  const sleeps = rig.calls('sleep').map((c) => Number(c[1]));
  assert.deepEqual(sleeps.slice(0, 5), [1, 2, 4, 8, 10], 'backs off to 10 s');
  const total = sleeps.reduce((a, b) => a + b, 0);
  assert.ok(total >= 60 && total < 70, `waited ${total} s of boot clock for a 60 s deadline`);
  rig.write('flag', '');
  rig.clearCalls();
  const now = sh(rig, 'wait_for 60 "the flag" test -e "$ROOT/flag" && echo held');
  assert.match(now.stdout, /held/);
  assert.equal(rig.calls('sleep').length, 0);
});

test('atomic_write leaves the old content or the new with its mode, syncing the file before the rename and the folder after', () => {
  const rig = new Rig();
  rig.write('etc/demo.conf', 'old\n');
  const r = sh(rig, 'printf "new\\n" | atomic_write "$ROOT/etc/demo.conf" 0640');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(rig.read('etc/demo.conf'), 'new\n');
  assert.equal(statSync(rig.path('etc/demo.conf')).mode & 0o777, 0o640);
  assert.deepEqual(rig.calls('sync').map((c) => c.slice(1)), [['--', rig.path('etc/demo.conf.imgforge-new')], ['--', rig.path('etc')]]);
  // A failure before the rename leaves the old file untouched.
  const cut = sh(rig, 'printf "half" | atomic_write "$ROOT/etc/demo.conf" 0640', { FAKE_FAIL: 'sync:3' });
  assert.notEqual(cut.status, 0);
  assert.equal(readFileSync(join(rig.root, 'etc/demo.conf'), 'utf8'), 'new\n');
});

test('have names the package of a missing tool and fails fatally', () => {
  const rig = new Rig();
  const r = sh(rig, 'have sh:dash no-such-tool-here:imaginary-utils');
  assert.equal(r.status, 99);
  assert.match(r.stderr, /no-such-tool-here is missing; install the imaginary-utils package in the base/);
});
