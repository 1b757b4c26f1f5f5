// Claims over real HTTPS: a node booted from a generic image posts a claim token, waits (202,
// Retry-After) until `imgforge approve` approves it, then gets its enrolment secret, logged with
// its address and never with the token; a claim with another token is refused (409) and shown;
// a restart keeps both; --approve-first answers at once; plain http is refused.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import type { TlsFiles } from '../../src/execute/serve.ts';
import { describeServe, type ServePlan } from '../../src/plan/serve.ts';
import { cli, requireTool, tempDir } from '../helpers.ts';
import { CONFIG, preparedOnce, raw, serveTest, type Raw, type TestServer } from './fixtures.ts';

const token = (): string => randomBytes(16).toString('hex');
const idOf = (t: string): string => createHash('sha256').update(t).digest('hex').slice(0, 12);
const approve = (dir: string, ...args: string[]) => cli(['--config', CONFIG, 'approve', ...args, '--state-dir', dir]);
const noOpenssl = !requireTool('openssl') && 'openssl is not installed';

function makeTls(): TlsFiles {
  const dir = tempDir();
  const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { encoding: 'utf8' });
  assert.equal(gen.status, 0, gen.stderr);
  return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
}

/** A request over https that trusts the test certificate. */
function https(tls: TlsFiles, port: number, method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, method, path, headers: opts.headers ?? {}, ca: tls.cert }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject).end(opts.body);
  });
}

const lines = (dir: string, file: string): Record<string, unknown>[] =>
  existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
const statusOf = async (get: (path: string) => Promise<Raw>, host: string): Promise<{ id: string; state: string; address: string }[]> =>
  (JSON.parse((await get('/status.json')).body.toString()) as { nodes: { hostname: string; claims: { id: string; state: string; address: string }[] }[] })
    .nodes.find((n) => n.hostname === host)!.claims;

describe('claims over https', { skip: noOpenssl }, () => {
  let tls: TlsFiles, plan: ServePlan, server: TestServer, secrets: ReadonlyMap<string, string>;
  const a = token(), b = token(), c = token(), d = token();
  const claim = (host: string, tok: string | null, body?: string, s = server) =>
    https(tls, s.port, 'POST', `/claims/${host}`, { headers: { ...(tok === null ? {} : { authorization: `Bearer ${tok}` }), 'content-type': 'application/x-www-form-urlencoded' }, body });
  before(async () => {
    tls = makeTls();
    const p = await preparedOnce();
    secrets = p.enrolments;
    plan = { ...p.plan, options: { ...p.plan.options, tls: true } };
    server = await serveTest(plan, { tls });
  });
  after(() => server.close());

  test('a bad token is 400, a malformed body 400, an unknown host 404: nothing recorded, no machine listed', async () => {
    for (const tok of [null, 'abc', 'A'.repeat(32), 'g'.repeat(32), 'a'.repeat(129)]) assert.equal((await claim('w1', tok)).status, 400, String(tok));
    for (const body of ['{"mac":', '{"hostname":"w1"}', JSON.stringify({ mac: 'x'.repeat(129) }), '[1]', '"w1"', JSON.stringify({ uuid: 5 })]) {
      const r = await claim('w1', a, body);
      assert.equal(r.status, 400, body);
      assert.match((JSON.parse(r.body.toString()) as { reason: string }).reason, /not JSON|not a claim/);
    }
    assert.equal((await claim('nosuch', a)).status, 404);
    assert.ok(!existsSync(join(server.stateDir, 'claims.jsonl')), 'nothing recorded');
    assert.deepEqual((JSON.parse((await https(tls, server.port, 'GET', '/unknown.json')).body.toString()) as { unknown: unknown[] }).unknown, []);
  });

  test('a new claim is pending: 202 with Retry-After and the command that approves it; a repeat records nothing more', async () => {
    const body = JSON.stringify({ mac: '52:54:00:60:0a:2b', uuid: '00000000-0000-4000-8000-0000000000aa' });
    for (let i = 0; i < 3; i++) {
      const r = await claim('w1', a, body);
      assert.equal(r.status, 202);
      assert.equal(r.headers['retry-after'], '10');
      assert.deepEqual(JSON.parse(r.body.toString()), { claim: idOf(a), state: 'pending', approve: `imgforge approve w1 ${idOf(a)}` });
    }
    const kept = lines(server.stateDir, 'claims.jsonl');
    assert.equal(kept.length, 1, 'one record for three polls');
    assert.deepEqual([kept[0]!['host'], kept[0]!['tokenSha256'], kept[0]!['address'], kept[0]!['mac']],
      ['w1', createHash('sha256').update(a).digest('hex'), '127.0.0.1', '52:54:00:60:0a:2b']);
    assert.ok(!readFileSync(join(server.stateDir, 'claims.jsonl'), 'utf8').includes(a), 'the token itself is never kept');
    assert.deepEqual((await statusOf((p) => https(tls, server.port, 'GET', p), 'w1')).map((x) => `${x.id} ${x.state} ${x.address}`), [`${idOf(a)} pending 127.0.0.1`]);
  });

  test('approved with imgforge approve: the next poll is 200 with the enrolment secret, which fetches the enrolled seed', async () => {
    const r = await approve(server.stateDir, 'w1', idOf(a));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^approved: w1's claim ${idOf(a)} from 127\\.0\\.0\\.1 \\(mac 52:54:00:60:0a:2b, uuid 00000000-`, 'm'));
    assert.equal(statSync(join(server.stateDir, 'approvals.jsonl')).mode & 0o777, 0o600);
    const got = await claim('w1', a);
    assert.equal(got.status, 200, got.body.toString());
    assert.match(String(got.headers['content-type']), /^text\/plain/);
    assert.equal(got.body.toString(), `${secrets.get('w1')}\n`);
    assert.equal((await https(tls, server.port, 'GET', `/nodes/w1/${got.body.toString().trim()}/meta-data`)).status, 200);
    const served = lines(server.stateDir, 'secrets-served.jsonl');
    assert.deepEqual(served.map((s) => `${s['node']} ${s['file']} ${s['address']} ${s['proof']}`), [`w1 enrolment-secret 127.0.0.1 claim ${idOf(a)}`]);
    for (const text of [readFileSync(join(server.stateDir, 'secrets-served.jsonl'), 'utf8'), JSON.stringify(server.logs)]) {
      assert.ok(!text.includes(a) && !text.includes(secrets.get('w1')!), 'neither the token nor the secret is logged');
    }
    assert.ok(server.logs.some((l) => l['proof'] === `claim ${idOf(a)}` && l['address'] === '127.0.0.1'));
  });

  test('a claim with another token for an approved node is 409, kept and shown as refused', async () => {
    const r = await claim('w1', d);
    assert.equal(r.status, 409);
    assert.match((JSON.parse(r.body.toString()) as { reason: string }).reason, new RegExp(`^node w1 already has an approved claim ${idOf(a)}`));
    assert.deepEqual((await statusOf((p) => https(tls, server.port, 'GET', p), 'w1')).map((x) => `${x.id} ${x.state}`), [`${idOf(a)} approved`, `${idOf(d)} refused`]);
  });

  test('imgforge approve refuses (exit 2): an unknown node, no pending claim, several without an id; the id picks one', async () => {
    const unknown = await approve(server.stateDir, 'nosuch');
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no node with hostname "nosuch"/);
    const none = await approve(server.stateDir, 'cp1');
    assert.equal(none.code, 2);
    assert.match(none.stderr, /cp1 has no pending claim: no machine has claimed it/);
    const done = await approve(server.stateDir, 'w1');
    assert.equal(done.code, 2);
    assert.match(done.stderr, new RegExp(`w1 has no pending claim: its claim ${idOf(a)} is approved already`));
    assert.equal((await approve(server.stateDir, 'w1', idOf(d))).code, 2, 'a refused claim');
    assert.equal((await claim('w2', b, '{"serial":"SN-B"}')).status, 202);
    assert.equal((await claim('w2', c, '{"mac":"","uuid":"","serial":""}')).status, 202, 'the node client sends what it could not read as empty strings');
    const several = await approve(server.stateDir, 'w2');
    assert.equal(several.code, 2);
    assert.match(several.stderr, new RegExp(`w2 has 2 pending claims[^]*${idOf(b)} from 127\\.0\\.0\\.1 \\(serial SN-B\\)[^]*${idOf(c)} from 127\\.0\\.0\\.1 \\(no identifiers\\)`));
    assert.equal((await approve(server.stateDir, 'w2', 'ffffffffffff')).code, 2, 'no such claim');
    assert.equal((await approve(server.stateDir, 'w2', idOf(c))).code, 0);
    assert.equal((await claim('w2', c)).body.toString(), `${secrets.get('w2')}\n`);
    assert.equal((await claim('w2', b)).status, 409);
  });

  test('a restart keeps the claims and approvals', async () => {
    await server.close();
    server = await serveTest(plan, { tls, stateDir: server.stateDir });
    assert.equal((await claim('w1', a)).body.toString(), `${secrets.get('w1')}\n`);
    assert.equal((await claim('w1', d)).status, 409);
    assert.deepEqual((await statusOf((p) => https(tls, server.port, 'GET', p), 'w2')).map((x) => `${x.id} ${x.state}`), [`${idOf(b)} refused`, `${idOf(c)} approved`]);
    assert.equal(lines(server.stateDir, 'claims.jsonl').length, 4, 'w1: a and d, w2: b and c, each once');
  });

  test('--approve-first: a node\'s first claim is answered with its secret at once; the next token is refused', async () => {
    const first = await serveTest(plan, { tls, approveFirst: true });
    try {
      const r = await claim('cp1', a, undefined, first);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), `${secrets.get('cp1')}\n`);
      assert.deepEqual(lines(first.stateDir, 'approvals.jsonl').map((l) => `${l['host']} ${l['by']}`), ['cp1 approve-first']);
      assert.equal((await claim('cp1', b, undefined, first)).status, 409);
    } finally {
      await first.close();
    }
  });
});

test('serve --dry-run --json lists the claim route and what it needs; over http it warns claims are refused', async () => {
  const plan = describeServe((await preparedOnce()).plan) as { routes: { method: string; path: string; needs: string }[]; warnings: string[]; approveFirst: boolean };
  assert.deepEqual(plan.routes.filter((r) => r.path.startsWith('/claims/')).map((r) => `${r.method} ${r.path}: ${r.needs}`),
    ['POST /claims/<hostname>: a claim token; answered with the enrolment secret once approved']);
  assert.match(plan.warnings.join('\n'), /claims are refused \(403\) over http/);
  assert.equal(plan.approveFirst, false);
});

test('claims over plain http are refused 403 with nothing recorded; behind a TLS proxy (--url https://) they are taken, and imgforge status shows them', async () => {
  const p = await preparedOnce();
  const plain = await serveTest(p.plan);
  const tok = token();
  try {
    const r = await raw(plain.port, 'POST', '/claims/w1', { headers: { authorization: `Bearer ${tok}` } });
    assert.equal(r.status, 403);
    assert.match((JSON.parse(r.body.toString()) as { reason: string }).reason, /^claims need TLS/);
    assert.ok(!existsSync(join(plain.stateDir, 'claims.jsonl')));
  } finally {
    await plain.close();
  }
  const proxied = await serveTest({ ...p.plan, options: { ...p.plan.options, url: 'https://seed.test:8443' } });
  try {
    assert.equal((await raw(proxied.port, 'POST', '/claims/w2', { headers: { authorization: `Bearer ${tok}` } })).status, 202);
    const s = await cli(['status', '--server', `http://127.0.0.1:${proxied.port}`]);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, new RegExp(`^ +claim ${idOf(tok)} from 127\\.0\\.0\\.1 pending: imgforge approve w2 ${idOf(tok)}$`, 'm'));
  } finally {
    await proxied.close();
  }
});
