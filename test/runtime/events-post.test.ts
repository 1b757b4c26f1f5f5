// A node seeded by `imgforge serve` reports its stages back to it: the installer, given a bundle
// fetched with the node's enrolment secret, points the node's events at the server (the secret in
// a root-only header file); post-events posts the spool's new lines to the real seed server,
// 1000 at most per post, whole lines only, and keeps its place; a line the server cannot take
// costs only itself; a server that is down or refuses the secret leaves the place where it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadCluster } from '../../src/config/index.ts';
import { planCluster } from '../../src/plan/index.ts';
import { loadRuntime } from '../../src/render/runtime.ts';
import { loadTemplates } from '../../src/render/templates.ts';
import { loadPackageSources } from '../../src/plan/packages.ts';
import { ServeStatus } from '../../src/protocol/serve-status.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { event, preparedOnce, raw, serveTest } from '../serve/fixtures.ts';
import { LIB, Rig } from './rig.ts';

const POST = join(LIB, 'post-events');

test('a bundle fetched with the enrolment secret points the node\'s events at that server; an open URL does not', async () => {
  const cluster = await loadCluster(join(ROOT, 'test/fixtures/qemu.config.mjs'));
  const inputs = { templates: await loadTemplates(), runtime: await loadRuntime(), packages: await loadPackageSources(), version: 'test' };
  const { seeds, bundles } = await planCluster(cluster, ['vm1'], inputs);
  const bundle = bundles.get('vm1')!;
  const item = (parseYaml(seeds.get('vm1')!.find((f) => f.name === 'user-data')!.content as string) as { bootcmd: string[][] }).bootcmd[0]!;
  const dir = tempDir('imgforge-www-');
  for (const d of ['nodes/vm1', 'nodes/vm1/s3cret']) {
    mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, d, 'imgforge-bundle.tar'), bundle.tar);
  }
  const server = spawn('python3', ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '--directory', dir, '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const port = await new Promise<string>((resolve) => server.stdout.on('data', (d: Buffer) => { const m = /port (\d+)/.exec(d.toString()); if (m) resolve(m[1]!); }));
    const url = `http://127.0.0.1:${port}`;
    const boot = (rig: Rig, source: string) => rig.run(['sh', '-c', item[2]!, 'imgforge-bundle', bundle.sha256, String(bundle.tar.length), source], { FAKE_CIDATA: '', FAKE_HOSTNAME: 'vm1' });
    const open = new Rig();
    assert.equal(boot(open, `${url}/nodes/vm1/imgforge-bundle.tar`).status, 0);
    assert.equal(existsSync(open.path('var/lib/imgforge/events.url')), false, 'no secret, no events back');
    const enrolled = new Rig();
    const r = boot(enrolled, `${url}/nodes/vm1/s3cret/imgforge-bundle.tar`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(enrolled.read('var/lib/imgforge/events.url'), `${url}/events/vm1\n`);
    assert.equal(enrolled.read('var/lib/imgforge/events.header'), 'Authorization: Bearer s3cret\n');
    assert.equal(statSync(enrolled.path('var/lib/imgforge/events.header')).mode & 0o777, 0o600, 'the secret is for root alone');
    assert.equal(existsSync(enrolled.path('usr/local/lib/imgforge/post-events')), true);
  } finally {
    server.kill();
  }
});

test('post-events: the spool\'s new lines reach the seed server, whole and in order; a bad line costs only itself; a down server or a wrong secret keeps the place', async () => {
  const p = await preparedOnce();
  const server = await serveTest(p.plan);
  const root = tempDir('imgforge-node-');
  const state = join(root, 'var/lib/imgforge');
  mkdirSync(state, { recursive: true });
  const spool = join(state, 'events.jsonl');
  const offset = () => Number(readFileSync(join(state, 'events.posted'), 'utf8'));
  const run = () => new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile('sh', [POST], { env: { ...process.env, IMGFORGE_ROOT: root } }, (e, _out, stderr) => resolve({ code: e ? Number(e.code) : 0, stderr }));
  });
  const line = (stage: string, st: string, i = 0) => `${JSON.stringify(event('cp1', stage, st, { up: 12.5 + i }))}\n`;
  const status = async () => ServeStatus.parse(JSON.parse((await raw(server.port, 'GET', '/status.json')).body.toString())).nodes.find((n) => n.hostname === 'cp1')!;
  try {
    writeFileSync(join(state, 'events.url'), `${server.base}/events/cp1\n`);
    writeFileSync(join(state, 'events.header'), `Authorization: Bearer ${p.enrolments.get('cp1')}\n`, { mode: 0o600 });
    // Three events and a line still being written.
    writeFileSync(spool, line('bundle', 'ok') + line('layout', 'begin') + line('layout', 'ok') + line('kubeadm-init', 'begin').slice(0, 30));
    assert.deepEqual(await run(), { code: 0, stderr: '' });
    assert.equal(offset(), Buffer.byteLength(line('bundle', 'ok') + line('layout', 'begin') + line('layout', 'ok')), 'whole lines only');
    assert.deepEqual([(await status()).stage, (await status()).state, (await status()).events], ['layout', 'ok', 3]);

    // The rest of that line, 1200 more, one of them not an event: two posts, then line by line for the bad one.
    appendFileSync(spool, line('kubeadm-init', 'begin').slice(30));
    for (let i = 0; i < 1200; i++) appendFileSync(spool, i === 1100 ? '{"v":1,"not an event"\n' : line('kubeadm-init', 'note', i));
    appendFileSync(spool, line('kubeadm-init', 'ok'));
    const r = await run();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /refused an event line as malformed; skipped: \{"v":1,"not an event"\}?/);
    assert.equal(offset(), statSync(spool).size);
    const kept = readFileSync(join(server.stateDir, 'events', 'cp1.jsonl'), 'utf8').trim().split('\n');
    assert.equal(kept.length, 3 + 1 + 1199 + 1, 'every event but the bad line, each once');
    assert.deepEqual([(await status()).stage, (await status()).state], ['kubeadm-init', 'ok']);

    // A wrong secret: refused, the place kept.
    appendFileSync(spool, line('cni', 'begin'));
    const before = offset();
    writeFileSync(join(state, 'events.header'), 'Authorization: Bearer not-the-secret\n');
    const wrong = await run();
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /answered 40[13]; trying again later/);
    assert.equal(offset(), before);
  } finally {
    await server.close();
  }
  // The server is gone: nothing answers, the place is kept for systemd's next try.
  writeFileSync(join(state, 'events.header'), `Authorization: Bearer ${p.enrolments.get('cp1')}\n`);
  const before = offset();
  const down = await run();
  assert.equal(down.code, 1);
  assert.match(down.stderr, /answered 000; trying again later/);
  assert.equal(offset(), before);
  // A node seeded otherwise has no events.url: nothing to do, nothing posted.
  const plain = tempDir('imgforge-node-');
  mkdirSync(join(plain, 'var/lib/imgforge'), { recursive: true });
  writeFileSync(join(plain, 'var/lib/imgforge/events.jsonl'), line('bundle', 'ok'));
  const quiet = await new Promise<number>((resolve) => execFile('sh', [POST], { env: { ...process.env, IMGFORGE_ROOT: plain } }, (e) => resolve(e ? Number(e.code) : 0)));
  assert.equal(quiet, 0);
  assert.equal(existsSync(join(plain, 'var/lib/imgforge/events.posted')), false);
});
