// The cluster's assembly as the server shows it: read off every node's events (the stage that ended
// ok first, in time order), on /status.json, in `imgforge status` and on the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterProgress, progressLine, ServeStatus } from '../../src/protocol/serve-status.ts';
import { parseEvents, type Event } from '../../src/protocol/events.ts';
import { LAST_LINES, timelineLine, timelineOf } from '../../src/protocol/timeline.ts';
import { cli } from '../helpers.ts';
import { event, preparedOnce, raw, serveTest } from './fixtures.ts';

const ev = (node: string, stage: string, state: string, time: string): Event =>
  parseEvents(JSON.stringify(event(node, stage, state, { time }))).events[0]!;

test('init, joins in the order they ended, etcd members (init node, joined control planes, etcd-member), the token', () => {
  const nodes = [
    { hostname: 'cp01', role: 'control-plane', events: [ev('cp01', 'kubeadm-init', 'begin', '2026-12-01T10:00:00Z'), ev('cp01', 'kubeadm-init', 'ok', '2026-12-01T10:02:00Z')] },
    { hostname: 'cp02', role: 'control-plane', events: [ev('cp02', 'kubeadm-join', 'fail', '2026-12-01T10:03:00Z'), ev('cp02', 'kubeadm-join', 'ok', '2026-12-01T10:09:00Z')] },
    { hostname: 'w1', role: 'worker', events: [ev('w1', 'kubeadm-join', 'ok', '2026-12-01T10:04:00Z'), ev('w1', 'etcd-member', 'ok', '2026-12-01T10:05:00Z')] },
    { hostname: 'w2', role: 'worker', events: [ev('w2', 'kubeadm-join', 'begin', '2026-12-01T10:04:30Z')] },
  ];
  const p = clusterProgress(nodes);
  assert.deepEqual(p, { initialised: 'cp01', joined: ['w1', 'cp02'], etcdMembers: ['cp01', 'cp02', 'w1'], tokenDeleted: false });
  assert.equal(progressLine(p), 'cluster: initialised on cp01; joined: w1, cp02; etcd members: cp01, cp02, w1; bootstrap token still valid');
  nodes[0]!.events.push(ev('cp01', 'token-cleanup', 'ok', '2026-12-01T10:11:00Z'));
  assert.equal(clusterProgress(nodes).tokenDeleted, true);
  assert.equal(progressLine(clusterProgress([])), 'cluster: not initialised yet');
});

test('the server shows the progress: /status.json, imgforge status and the page, from events the nodes post', async () => {
  const p = await preparedOnce();
  const server = await serveTest(p.plan);
  try {
    const post = (node: string, stage: string) => raw(server.port, 'POST', `/events/${node}`,
      { headers: { authorization: `Bearer ${p.enrolments.get(node)}` }, body: JSON.stringify(event(node, stage, 'ok')) });
    assert.equal((await post('cp1', 'kubeadm-init')).status, 202);
    assert.equal((await post('w1', 'kubeadm-join')).status, 202);
    const s = ServeStatus.parse(JSON.parse((await raw(server.port, 'GET', '/status.json')).body.toString()));
    assert.deepEqual(s.progress, { initialised: 'cp1', joined: ['w1'], etcdMembers: ['cp1'], tokenDeleted: false });
    const text = await cli(['status', '--server', `http://127.0.0.1:${server.port}`]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^cluster: initialised on cp1; joined: w1; etcd members: cp1; bootstrap token still valid$/m);
    assert.match((await raw(server.port, 'GET', '/')).body.toString(), /<p id="progress">cluster: initialised on cp1; joined: w1;/);
  } finally {
    await server.close();
  }
});

test('a node\'s timeline: its latest boot\'s stages in the order they began, state and duration by uptime, then its last messages', () => {
  const at = (boot: string, stage: string, state: string, up: number, extra: Record<string, unknown> = {}): Event =>
    parseEvents(JSON.stringify(event('w1', stage, state, { boot, up, time: `2026-12-01T10:00:${String(Math.floor(up) % 60).padStart(2, '0')}Z`, ...extra }))).events[0]!;
  const events = [
    at('b1', 'layout', 'begin', 10), at('b1', 'layout', 'fail', 20, { msg: 'power went' }),
    // The second boot: what the timeline shows.
    at('b2', 'bundle', 'ok', 5, { msg: 'installed' }), at('b2', 'layout', 'begin', 8), at('b2', 'layout', 'retry', 9, { msg: 'disk busy', attempt: 1 }),
    at('b2', 'layout', 'note', 12, { msg: 'grew root' }), at('b2', 'layout', 'ok', 38.46), at('b2', 'packages', 'begin', 40),
    at('b2', 'report', 'note', 41, { fact: 'hostname', value: ['w1'] }), at('b2', 'packages', 'note', 41, { msg: 'apt-get update' }),
  ];
  const t = timelineOf(events);
  assert.deepEqual(t.timeline, [
    { stage: 'bundle', state: 'ok', seconds: null }, { stage: 'layout', state: 'ok', seconds: 30.5 }, { stage: 'packages', state: 'begin', seconds: null },
  ], 'a note changes no state; a report\'s fact is not a stage line');
  assert.equal(timelineLine(t.timeline), 'bundle ok, layout ok 30.5s, packages begin');
  assert.deepEqual(t.lines, ['10:00:05 bundle ok: installed', '10:00:09 layout retry: disk busy', '10:00:12 layout note: grew root', '10:00:41 packages note: apt-get update']);
  // Only the last LAST_LINES messages.
  const many = Array.from({ length: LAST_LINES + 3 }, (_, i) => at('b3', 'packages', 'note', i, { msg: `line ${i}` }));
  assert.deepEqual(timelineOf(many).lines.map((l) => l.split(': ')[1]), Array.from({ length: LAST_LINES }, (_, i) => `line ${i + 3}`));
  assert.deepEqual(timelineOf([]), { timeline: [], lines: [] });
});

test('imgforge status <node>: that node\'s timeline and last messages under its line; a node not in the cluster is an input error', async () => {
  const p = await preparedOnce();
  const server = await serveTest(p.plan);
  try {
    const body = [event('w1', 'layout', 'begin', { up: 10 }), event('w1', 'layout', 'ok', { up: 40, msg: 'root grown' }), event('w1', 'packages', 'begin', { up: 41 })].map((e) => JSON.stringify(e)).join('\n');
    assert.equal((await raw(server.port, 'POST', '/events/w1', { headers: { authorization: `Bearer ${p.enrolments.get('w1')}` }, body })).status, 202);
    const url = `http://127.0.0.1:${server.port}`;
    const shown = await cli(['status', '--server', url, 'w1']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^ {2}w1 .*\n {15}timeline: layout ok 30s, packages begin\n {17}10:00:00 layout ok: root grown\n/m);
    assert.doesNotMatch((await cli(['status', '--server', url])).stdout, /timeline:/, 'only for the nodes named');
    const json = ServeStatus.parse(JSON.parse((await cli(['status', '--server', url, '--json'])).stdout));
    assert.equal(timelineLine(json.nodes.find((n) => n.hostname === 'w1')!.timeline), 'layout ok 30s, packages begin');
    const bad = await cli(['status', '--server', url, 'nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /There is no node with hostname "nope"/);
  } finally {
    await server.close();
  }
});
