// The server's defences over real HTTP: secrets only to their node's enrolment secret and every
// one logged with who asked; no secret in the access log; climbing paths, oversized bodies and
// malformed events refused with nothing changed; a per-address rate limit; https.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { requireTool, tempDir } from '../helpers.ts';
import { event, preparedOnce, raw, serveTest, type TestServer } from './fixtures.ts';

describe('secrets and bad requests', () => {
  let server: TestServer;
  let secret: (host: string) => string;
  before(async () => {
    const p = await preparedOnce();
    secret = (h) => p.enrolments.get(h)!;
    server = await serveTest(p.plan);
  });
  after(() => server.close());

  test('the secrets tar: 401 by hostname, MAC or serial alone, 403 with another node\'s secret, 200 with its own; each served one logged with the address', async () => {
    for (const path of ['/nodes/cp1/', '/by-mac/52:54:00:60:00:11/', '/by-serial/SN-CP1-0001/']) {
      const none = await raw(server.port, 'GET', `${path}imgforge-secrets.tar`);
      assert.equal(none.status, 401, path);
      assert.equal(none.headers['www-authenticate'], 'Bearer realm="imgforge"');
      assert.equal((await raw(server.port, 'GET', `${path}imgforge-secrets.tar`, { headers: { authorization: `Bearer ${secret('w1')}` } })).status, 403, path);
    }
    assert.equal((await raw(server.port, 'GET', `/nodes/cp1/${secret('w1')}/imgforge-secrets.tar`)).status, 403, 'w1\'s secret in cp1\'s enrolled path');
    assert.ok(!existsSync(join(server.stateDir, 'secrets-served.jsonl')), 'nothing served yet, nothing logged');
    const ok = await raw(server.port, 'GET', '/by-serial/SN-CP1-0001/imgforge-secrets.tar', { headers: { authorization: `Bearer ${secret('cp1')}` } });
    assert.equal(ok.status, 200);
    assert.ok(ok.body.includes('PRIVATE KEY'), 'a control plane\'s secrets hold CA keys');
    assert.equal((await raw(server.port, 'GET', `/nodes/cp1/${secret('cp1')}/imgforge-secrets.tar`, { from: '127.0.0.3' })).status, 200);
    const audit = readFileSync(join(server.stateDir, 'secrets-served.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { node: string; address: string; proof: string; file: string });
    assert.deepEqual(audit.map((a) => `${a.node} ${a.file} ${a.address} ${a.proof}`), ['cp1 imgforge-secrets.tar 127.0.0.1 bearer', 'cp1 imgforge-secrets.tar 127.0.0.3 path']);
    assert.equal(server.logs.filter((l) => l['secret'] === 'imgforge-secrets.tar').map((l) => l['address']).join(' '), '127.0.0.1 127.0.0.3');
  });

  test('the access log names each request and its node, never an enrolment secret', async () => {
    await raw(server.port, 'GET', `/nodes/w1/${secret('w1')}/user-data`);
    await raw(server.port, 'POST', `/events/w1/${secret('w1')}`, { body: JSON.stringify(event('w1', 'layout', 'begin')) });
    const text = JSON.stringify(server.logs);
    for (const h of ['cp1', 'w1', 'w2']) assert.ok(!text.includes(secret(h)), `${h}'s secret leaked into the log`);
    assert.ok(server.logs.some((l) => l['path'] === '/nodes/w1/<enrolment>/user-data' && l['status'] === 200 && l['node'] === 'w1'));
  });

  test('a climbing or encoded path is 400 and changes nothing', async () => {
    const before = JSON.parse((await raw(server.port, 'GET', '/status.json')).body.toString()) as { nodes: { hostname: string; lastFetch: unknown }[] };
    for (const path of ['/nodes/w2/../cp1/imgforge-secrets.tar', '/nodes/w2/%2e%2e/cp1/user-data', '/nodes/w2%2fuser-data', '/by-mac/..%2f..%2fetc%2fpasswd/user-data', '/nodes/w2/user-data%00']) {
      const r = await raw(server.port, 'GET', path);
      assert.equal(r.status, 400, `${path}: ${r.body.toString()}`);
    }
    const after = JSON.parse((await raw(server.port, 'GET', '/status.json')).body.toString()) as typeof before;
    assert.deepEqual(after.nodes.find((n) => n.hostname === 'w2'), before.nodes.find((n) => n.hostname === 'w2'), 'no fetch recorded');
  });

  test('an oversized body is 413, malformed events 400 with the reason; neither keeps anything', async () => {
    const auth = { authorization: `Bearer ${secret('w2')}` };
    const big = `${JSON.stringify(event('w2', 'layout', 'note', { msg: 'x'.repeat(300 * 1024) }))}\n`;
    assert.equal((await raw(server.port, 'POST', '/events/w2', { headers: auth, body: big })).status, 413);
    assert.equal((await raw(server.port, 'POST', '/events/w2', { body: big.match(/[^]{1,65536}/g)! })).status, 401, 'who posts is judged before the body is read');
    // Without Content-Length (chunked): the limit holds while reading.
    const chunked = await raw(server.port, 'POST', '/events/w2', { headers: auth, body: big.match(/[^]{1,65536}/g)! });
    assert.equal(chunked.status, 413);
    for (const [body, why] of [['{"v":1,', /not JSON/], [JSON.stringify(event('w2', 'layout', 'exploded')), /state/], [JSON.stringify([event('w2', 'layout', 'ok'), { hello: 1 }]), /v: /],
      [JSON.stringify(event('cp1', 'layout', 'ok')), /"cp1" posted as w2's/], ['', /empty/], ['[]', /no event/]] as const) {
      const r = await raw(server.port, 'POST', '/events/w2', { headers: auth, body });
      assert.equal(r.status, 400, body);
      assert.match((JSON.parse(r.body.toString()) as { problems: string[] }).problems.join('\n'), why);
    }
    assert.ok(!existsSync(join(server.stateDir, 'events', 'w2.jsonl')), 'no event of w2 kept');
    assert.equal((await raw(server.port, 'POST', '/events/w2', { body: JSON.stringify(event('w2', 'layout', 'ok')) })).status, 401, 'and none without its secret');
    assert.equal((await raw(server.port, 'POST', '/events/w2', { headers: { authorization: `Bearer ${secret('w1')}` }, body: JSON.stringify(event('w2', 'layout', 'ok')) })).status, 403);
  });
});

test('the per-address rate limit answers 429 with Retry-After; other addresses are served', async () => {
  const server = await serveTest((await preparedOnce()).plan, { limits: { perMinute: 60, burst: 3 } });
  try {
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await raw(server.port, 'GET', '/nodes/w2/meta-data')).status);
    assert.deepEqual(codes, [200, 200, 200, 429, 429]);
    const limited = await raw(server.port, 'GET', '/nodes/w2/meta-data');
    assert.equal(limited.headers['retry-after'], '1');
    assert.equal((await raw(server.port, 'GET', '/nodes/w2/meta-data', { from: '127.0.0.2' })).status, 200);
  } finally {
    await server.close();
  }
});

test('over https (--tls-cert, --tls-key): the enrolled path hands a node its secrets', { skip: !requireTool('openssl') && 'openssl is not installed' }, async () => {
  const dir = tempDir();
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  const tls = { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  const p = await preparedOnce();
  const server = await serveTest({ ...p.plan, options: { ...p.plan.options, tls: true } }, { tls });
  try {
    const got = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      httpsRequest({ host: '127.0.0.1', port: server.port, path: `/nodes/w1/${p.enrolments.get('w1')}/imgforge-secrets.tar`, ca: tls.cert }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      }).on('error', reject).end();
    });
    assert.equal(got.status, 200);
    assert.ok(got.body.includes('bootstrap-token'), 'a worker\'s secrets: its bootstrap token');
    assert.notEqual((await raw(server.port, 'GET', '/nodes/w1/meta-data').catch(() => ({ status: 0 }))).status, 200, 'no plain http on the https port');
  } finally {
    await server.close();
  }
});
