// The live page: rendered on the server with everything a node sent escaped, its script allowed
// by hash alone, its row cells the server's own; /stream pushes the status on a change,
// coalesced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { runInNewContext } from 'node:vm';
import { CELLS_JS, cells, DETAIL_JS, detail } from '../../src/execute/serve-page.ts';
import { claimLine } from '../../src/protocol/serve-claims.ts';
import { timelineLine } from '../../src/protocol/timeline.ts';
import type { NodeStatus } from '../../src/protocol/serve-status.ts';
import { event, preparedOnce, raw, serveTest } from './fixtures.ts';

const node = (over: Partial<NodeStatus>): NodeStatus => ({
  hostname: 'n1', role: 'worker', phase: 'waiting', boots: 0, stage: null, state: null, reported: null, lastProblem: null, lastEvent: null, lastFetch: null, events: 0, timeline: [], lines: [], claims: [], ...over,
});

test('the page script\'s cells are the server\'s', () => {
  const inPage = runInNewContext(CELLS_JS) as (n: NodeStatus) => string[];
  for (const n of [node({}), node({ phase: 'booting', boots: 2, stage: 'layout', state: 'retry', lastEvent: '2026-12-02T08:00:00.000Z', lastProblem: 'layout retry: busy' }),
    node({ phase: 'seeded', lastFetch: { file: 'user-data', address: '10.0.0.9', time: '2026-12-02T08:00:00.000Z' } })]) {
    assert.deepEqual([...inPage(n)], cells(n)); // copied out of the other realm: its arrays have another prototype
  }
});

test('the page script\'s line under a row is the server\'s: the claims, the timeline, then the last messages', () => {
  const inPage = runInNewContext(`const timelineLine = ${timelineLine.toString()}; const claimLine = ${claimLine.toString()}; (${DETAIL_JS})`) as (n: NodeStatus) => string;
  const busy = node({ timeline: [{ stage: 'layout', state: 'ok', seconds: 30.5 }, { stage: 'packages', state: 'begin', seconds: null }], lines: ['10:00:00 layout ok: root grown', '10:00:31 packages note: apt'] });
  assert.equal(detail(busy), 'layout ok 30.5s, packages begin\n10:00:00 layout ok: root grown\n10:00:31 packages note: apt');
  const claimed = node({ claims: [{ id: '0123456789ab', state: 'pending', address: '10.0.0.9', time: '2026-12-02T08:00:00.000Z' },
    { id: 'ba9876543210', state: 'refused', address: '10.0.0.66', time: '2026-12-02T08:01:00.000Z' }] });
  assert.equal(detail(claimed), 'claim 0123456789ab from 10.0.0.9 pending: imgforge approve n1 0123456789ab\nclaim ba9876543210 from 10.0.0.66 refused');
  for (const n of [node({}), busy, claimed]) assert.equal(inPage(n), detail(n));
});

test('GET /: every node\'s row, what a node sent escaped, the inline script allowed by its hash alone', async () => {
  const p = await preparedOnce();
  const server = await serveTest(p.plan);
  try {
    const evil = '<img src=x onerror=alert(1)>';
    assert.equal((await raw(server.port, 'POST', '/events/w1', { headers: { authorization: `Bearer ${p.enrolments.get('w1')}` },
      body: JSON.stringify(event('w1', 'layout', 'fail', { msg: evil })) })).status, 202);
    const page = await raw(server.port, 'GET', '/');
    assert.equal(page.status, 200);
    const html = page.body.toString();
    assert.match(html, /<tr class="failed"><td>w1<\/td><td>worker<\/td><td>failed<\/td>/);
    assert.ok(!html.includes(evil) && html.includes('&#60;img src=x onerror=alert(1)&#62;'), 'a node\'s message is text, never markup');
    const script = /<script>([^]*)<\/script>/.exec(html)![1]!;
    const csp = String(page.headers['content-security-policy']);
    assert.ok(csp.includes(`'sha256-${createHash('sha256').update(script).digest('base64')}'`), csp);
    assert.match(csp, /^default-src 'none'/);
  } finally {
    await server.close();
  }
});

test('GET /stream: the status at once, then again when a node posts, changes coalesced', async () => {
  const p = await preparedOnce();
  const server = await serveTest(p.plan);
  const statuses: { nodes: { hostname: string; events: number }[] }[] = [];
  let buffer = '';
  const req = request({ host: '127.0.0.1', port: server.port, path: '/stream' }, (res) => {
    assert.equal(res.headers['content-type'], 'text/event-stream');
    res.on('data', (c: Buffer) => {
      buffer += c.toString();
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = /^data: (.*)$/m.exec(message)?.[1];
        if (/^event: status$/m.test(message) && data) statuses.push(JSON.parse(data) as (typeof statuses)[number]);
      }
    });
  });
  req.on('error', () => undefined);
  req.end();
  const until = async (ok: () => boolean): Promise<void> => {
    for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(ok());
  };
  try {
    await until(() => statuses.length === 1);
    const auth = { authorization: `Bearer ${p.enrolments.get('w2')}` };
    const posts = await Promise.all(['bundle', 'layout', 'prepare', 'kubeadm-join', 'report'].map((stage) =>
      raw(server.port, 'POST', '/events/w2', { headers: auth, body: JSON.stringify(event('w2', stage, 'note')) })));
    assert.deepEqual(posts.map((r) => r.status), [202, 202, 202, 202, 202]);
    await until(() => statuses.at(-1)!.nodes.find((n) => n.hostname === 'w2')!.events === 5);
    assert.ok(statuses.length < 6, `five posts at once, ${statuses.length - 1} updates`);
  } finally {
    req.destroy();
    await server.close();
  }
});
