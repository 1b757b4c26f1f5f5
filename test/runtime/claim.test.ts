// A node seeded by a seed server's open URL (a generic image) claims its secrets: the bootstrap and
// installer as a node runs them, in a scratch root, against the real `imgforge serve` over https.
// The installer waits while the claim is pending, installs the secrets once it is approved, points
// the node's events at the server; the token survives a rerun; plain http is refused by the node.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { TlsFiles } from '../../src/execute/serve.ts';
import { cli, requireTool, tempDir } from '../helpers.ts';
import { CONFIG, preparedOnce, serveTest, type TestServer } from '../serve/fixtures.ts';
import { LIB, Rig } from './rig.ts';

const noOpenssl = !requireTool('openssl') && 'openssl is not installed';

function get(tls: TlsFiles, port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, ca: tls.cert }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

describe('a node claims its secrets from the seed server', { skip: noOpenssl, concurrency: false }, () => {
  let tls: TlsFiles, server: TestServer, caFile = '', item: string[] = [], secrets: ReadonlyMap<string, string>;
  before(async () => {
    const dir = tempDir();
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stderr);
    tls = { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
    caFile = join(dir, 'cert.pem');
    const p = await preparedOnce();
    secrets = p.enrolments;
    server = await serveTest({ ...p.plan, options: { ...p.plan.options, tls: true } }, { tls });
    // The open seed's bootcmd, as cloud-init runs it: sh -c <bootstrap> imgforge-bundle SHA BYTES SOURCE.
    item = (parseYaml(await get(tls, server.port, '/nodes/w1/user-data')) as { bootcmd: string[][] }).bootcmd[0]!;
  });
  after(() => server.close());

  // The bootstrap, with the served open bundle URL as its source; curl trusts the test certificate.
  const boot = (rig: Rig, base = `https://127.0.0.1:${server.port}`) => new Promise<{ status: number; stderr: string }>((resolve) => {
    const env = { ...process.env, PATH: `${rig.bin}:${process.env['PATH']}`, FAKE_REAL_PATH: process.env['PATH']!, FAKE_LOG: rig.log, IMGFORGE_ROOT: rig.root,
      FAKE_WORLD: rig.world, LC_ALL: 'C', FAKE_CIDATA: '', FAKE_HOSTNAME: 'w1', CURL_CA_BUNDLE: caFile, IMGFORGE_CLAIM_POLL: '0.2' };
    const child = spawn('sh', ['-c', item[2]!, 'imgforge-bundle', item[4]!, item[5]!, `${base}/nodes/w1/imgforge-bundle.tar`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('exit', (code) => resolve({ status: code ?? -1, stderr }));
  });
  const spool = (rig: Rig): { stage: string; state: string; msg?: string }[] =>
    rig.read('var/lib/imgforge/events.jsonl').trim().split('\n').map((l) => JSON.parse(l) as { stage: string; state: string; msg?: string });

  test('pending until approved, then the pinned secrets installed and the events pointed back with the enrolment secret', async () => {
    const rig = new Rig();
    const running = boot(rig);
    // The installer polls while the claim waits: approve it as the user would, from another process.
    let id = '';
    for (let i = 0; i < 100 && !id; i++) {
      await new Promise((r) => setTimeout(r, 100));
      id = /claim ([0-9a-f]{12}): imgforge approve w1/.exec(existsSync(rig.path('var/lib/imgforge/events.jsonl')) ? rig.read('var/lib/imgforge/events.jsonl') : '')?.[1] ?? '';
    }
    assert.ok(id, 'the node said which claim waits');
    const token = rig.read('var/lib/imgforge/claim.token');
    assert.match(token, /^[0-9a-f]{32}$/);
    assert.equal(statSync(rig.path('var/lib/imgforge/claim.token')).mode & 0o777, 0o600);
    const ok = await cli(['--config', CONFIG, 'approve', 'w1', id, '--state-dir', server.stateDir]);
    assert.equal(ok.code, 0, ok.stderr);
    const r = await running;
    assert.equal(r.status, 0, r.stderr);
    const events = spool(rig);
    assert.ok(events.some((e) => e.stage === 'bundle' && e.state === 'ok' && /installed bundle/.test(e.msg ?? '')), JSON.stringify(events));
    assert.ok(events.some((e) => e.state === 'note' && e.msg === `claim ${id} approved: secrets fetched from https://127.0.0.1:${server.port}`));
    // The secrets node.json pins, checked by the installer, are in place, 0600.
    const sums = rig.read('usr/local/lib/imgforge/SECRETS.SHA256SUMS');
    assert.ok(sums.includes('etc/imgforge/secrets/'), sums);
    const check = spawnSync('sha256sum', ['-c', '--quiet', join(rig.root, 'usr/local/lib/imgforge/SECRETS.SHA256SUMS')], { cwd: rig.root, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.equal(rig.read('var/lib/imgforge/events.url'), `https://127.0.0.1:${server.port}/events/w1\n`);
    assert.equal(rig.read('var/lib/imgforge/events.header'), `Authorization: Bearer ${secrets.get('w1')}\n`);
    assert.ok(!rig.read('var/lib/imgforge/events.jsonl').includes(token), 'the token is in no event');
    // Run again (a power cut before the marker): the same token, so the same claim, answered at once.
    writeFileSync(rig.path('var/lib/imgforge/bundle.sha256'), 'stale\n');
    const again = await boot(rig);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(rig.read('var/lib/imgforge/claim.token'), token);
    const claims = readFileSync(join(server.stateDir, 'claims.jsonl'), 'utf8').trim().split('\n');
    assert.equal(claims.length, 1, 'one claim for two runs');
  });

  test('another machine claiming the same node is refused (409): nothing installed, and the reason in its events', async () => {
    const rig = new Rig();
    await boot(rig);
    const events = spool(rig);
    assert.ok(events.some((e) => e.state === 'fail' && /refused claim [0-9a-f]{12} \(409\)/.test(e.msg ?? '')), JSON.stringify(events));
    assert.ok(events.some((e) => e.state === 'fail' && /secrets could not be claimed/.test(e.msg ?? '')));
    assert.equal(existsSync(rig.path('var/lib/imgforge/bundle.sha256')), false, 'not installed');
    assert.equal(existsSync(rig.path('etc/imgforge/secrets')), false);
  });

  test('over plain http the node does not claim: secrets only over TLS', () => {
    const rig = new Rig();
    const r = rig.run(['sh', join(LIB, 'claim'), 'http://127.0.0.1:9', 'w1']);
    assert.equal(r.status, 1);
    assert.match(rig.read('var/lib/imgforge/events.jsonl'), /no secrets over plain HTTP: the seed server http:\/\/127\.0\.0\.1:9 must be https for a claim/);
  });
});
