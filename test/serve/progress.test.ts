// The cluster's assembly as the server shows it: read off every node's events (the stage that ended
// ok first, in time order), on /status.json, in `imgforge status` and on the page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterProgress, progressLine, ServeStatus } from '../../src/protocol/serve-status.ts';
import { parseEvents, type Event } from '../../src/protocol/events.ts';
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
