// Phone-home: nodes post the events protocol (and cloud-init its reporting events, with no
// Content-Type); /status.json and `imgforge status` say where each node is; a restart of the
// server loses nothing; a node silent mid-boot goes stale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ServeStatus } from '../../src/protocol/serve-status.ts';
import { cli } from '../helpers.ts';
import { event, preparedOnce, raw, serveTest } from './fixtures.ts';

const status = async (port: number): Promise<ServeStatus> => ServeStatus.parse(JSON.parse((await raw(port, 'GET', '/status.json')).body.toString()));
const nodeOf = (s: ServeStatus, host: string): ServeStatus['nodes'][number] => s.nodes.find((n) => n.hostname === host)!;

test('events posted with the enrolment secret show as the node\'s stage; its report completes it; a restart keeps it all', async () => {
  const p = await preparedOnce();
  const auth = { authorization: `Bearer ${p.enrolments.get('cp1')}` };
  const server = await serveTest(p.plan);
  const stateDir = server.stateDir;
  try {
    assert.equal(nodeOf(await status(server.port), 'cp1').phase, 'waiting');
    assert.equal((await raw(server.port, 'GET', '/by-uuid/4c4c4544-0042-3510-8052-b4c04f4e3231/user-data')).status, 200);
    const seeded = nodeOf(await status(server.port), 'cp1');
    assert.equal(seeded.phase, 'seeded');
    assert.deepEqual({ file: seeded.lastFetch!.file, address: seeded.lastFetch!.address }, { file: 'user-data', address: '127.0.0.1' });
    // JSON lines, as the node's spool holds them.
    const spool = [event('cp1', 'bundle', 'ok'), event('cp1', 'layout', 'begin'), event('cp1', 'layout', 'ok'), event('cp1', 'kubeadm-init', 'begin')].map((e) => JSON.stringify(e)).join('\n');
    const r = await raw(server.port, 'POST', '/events/cp1', { headers: auth, body: spool });
    assert.equal(r.status, 202, r.body.toString());
    assert.deepEqual(JSON.parse(r.body.toString()), { accepted: 4 });
    const booting = nodeOf(await status(server.port), 'cp1');
    assert.deepEqual([booting.phase, booting.stage, booting.state, booting.boots, booting.events], ['booting', 'kubeadm-init', 'begin', 1, 4]);
    // One object, then an array.
    assert.equal((await raw(server.port, 'POST', '/events/cp1', { headers: auth, body: JSON.stringify(event('cp1', 'kubeadm-init', 'ok')) })).status, 202);
    assert.equal((await raw(server.port, 'POST', '/events/cp1', { headers: auth, body: JSON.stringify([event('cp1', 'report', 'ok')]) })).status, 202);
    assert.equal(nodeOf(await status(server.port), 'cp1').phase, 'complete');
    assert.equal(readFileSync(join(stateDir, 'events', 'cp1.jsonl'), 'utf8').trim().split('\n').length, 6, 'every event on disk');
  } finally {
    await server.close();
  }
  const again = await serveTest(p.plan, { stateDir });
  try {
    const cp1 = nodeOf(await status(again.port), 'cp1');
    assert.deepEqual([cp1.phase, cp1.events, cp1.lastFetch?.file], ['complete', 6, 'user-data'], 'the restarted server knows what the first knew');
  } finally {
    await again.close();
  }
});

test('cloud-init\'s reporting webhook: no Content-Type, the secret in the path; its stages join the node\'s timeline', async () => {
  const p = await preparedOnce();
  const server = await serveTest(p.plan);
  try {
    const path = `/events/w1/${p.enrolments.get('w1')}`;
    // cloudinit/reporting/handlers.py WebHookHandler posts json.dumps(event.as_dict()), no headers of its own.
    const at = Date.parse('2026-12-01T10:00:00Z') / 1000; // the time of the fixture's events
    const ci = { name: 'init-network/config-ssh', description: 'running config-ssh', event_type: 'start', origin: 'cloudinit', timestamp: at + 30 };
    assert.equal((await raw(server.port, 'POST', path, { body: JSON.stringify(ci) })).status, 202);
    const w1 = nodeOf(await status(server.port), 'w1');
    assert.deepEqual([w1.phase, w1.stage, w1.state, w1.boots], ['booting', 'cloud-init/init-network/config-ssh', 'begin', 0]);
    assert.equal((await raw(server.port, 'POST', path, { body: JSON.stringify(event('w1', 'bundle', 'fail', { msg: 'refused the bundle' })) })).status, 202);
    const failed = nodeOf(await status(server.port), 'w1');
    assert.deepEqual([failed.phase, failed.lastProblem], ['failed', 'bundle fail: refused the bundle']);
    const finish = { ...ci, event_type: 'finish', result: 'SUCCESS', timestamp: at + 40 };
    assert.equal((await raw(server.port, 'POST', path, { body: JSON.stringify(finish) })).status, 202);
    const kept = readFileSync(join(server.stateDir, 'events', 'w1.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { boot: string; stage: string; up: number });
    assert.deepEqual(kept.at(-1)!.boot, 'b0071d', 'a cloud-init event takes the boot of the node\'s latest event');
    assert.equal(kept.at(-1)!.up, 12.5 + 40, 'and its uptime, carried on from that event');
  } finally {
    await server.close();
  }
});

test('a node seeded or booting that falls silent shows as stale after the deadline', async () => {
  const p = await preparedOnce();
  let clock = Date.parse('2026-12-02T08:00:00Z');
  const server = await serveTest(p.plan, { now: () => clock, staleAfterSeconds: 60 });
  try {
    await raw(server.port, 'GET', '/nodes/w2/user-data');
    clock += 59_000;
    assert.equal(nodeOf(await status(server.port), 'w2').phase, 'seeded');
    clock += 2_000;
    assert.equal(nodeOf(await status(server.port), 'w2').phase, 'stale');
    assert.equal(nodeOf(await status(server.port), 'cp1').phase, 'waiting', 'a node never heard from is waiting, not stale');
  } finally {
    await server.close();
  }
});

test('imgforge status prints the server\'s view, --json as the protocol; an unreachable or foreign server is a catalogued error', async () => {
  const p = await preparedOnce();
  const server = await serveTest(p.plan);
  try {
    await raw(server.port, 'POST', `/events/w2/${p.enrolments.get('w2')}`, { body: JSON.stringify(event('w2', 'layout', 'retry', { attempt: 2, msg: 'disk busy' })) });
    await raw(server.port, 'GET', '/by-mac/52:54:00:60:ff:01/user-data');
    const text = await cli(['status', '--server', server.base]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^seedtest at http:\/\/seed\.test:8080, .*: 2 waiting, 1 booting$/m);
    assert.match(text.stdout, /^ {2}w2 +worker +booting +boots 1 +layout retry/m);
    assert.match(text.stdout, /last problem: layout retry: disk busy/);
    assert.match(text.stdout, /^ {2}mac 52:54:00:60:ff:01 from 127\.0\.0\.1, 1x, last .* for user-data$/m);
    const j = await cli(['status', '--server', `${server.base}/`, '--json']);
    assert.equal(ServeStatus.parse(JSON.parse(j.stdout)).nodes.length, 3);
  } finally {
    await server.close();
  }
  // A port nothing listens on: one the OS just gave and took back.
  const free = createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const port = (free.address() as { port: number }).port;
  await new Promise((r) => free.close(r));
  const gone = await cli(['status', '--server', `http://127.0.0.1:${port}`]);
  assert.equal(gone.code, 4);
  assert.match(gone.stderr, /^The seed server did not answer: http:\/\/127\.0\.0\.1:\d+\/status\.json: nothing listens there \(ECONNREFUSED\)/);
  const other = createServer((_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'));
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
  try {
    const r = await cli(['status', '--server', `http://127.0.0.1:${(other.address() as { port: number }).port}`]);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /is not an imgforge seed server's status/);
  } finally {
    other.close();
    other.closeAllConnections();
  }
});
