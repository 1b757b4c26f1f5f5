// `imgforge serve` as users run it: the plan printed without secrets (and with them only when
// asked), a real process that serves until SIGTERM and keeps its state, a port in use (exit 4),
// and a config that fails check (exit 1, nothing served).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { cli, cliProcess, ROOT, tempDir } from '../helpers.ts';
import { CONFIG, preparedOnce, raw, URL_TOLD } from './fixtures.ts';

const SERVE = ['--config', CONFIG, 'serve', '--listen', '127.0.0.1:0', '--url', URL_TOLD];

test('serve --dry-run --json: the routes, each node\'s identifiers and files, which need the secret; no secret unless --reveal', async () => {
  const { enrolments } = await preparedOnce();
  const r = await cli([...SERVE, '--dry-run', '--json']);
  assert.equal(r.code, 0, r.stderr);
  for (const s of enrolments.values()) assert.ok(!r.stdout.includes(s), 'an enrolment secret in the plan');
  const plan = JSON.parse(r.stdout) as { nodes: { hostname: string; mac: string | null; serial: string | null; uuid: string | null; seedUrl: string; enrolledSeedUrl: string | null; open: { name: string; needs: string }[] }[]; warnings: string[] };
  assert.deepEqual(plan.nodes.map((n) => [n.hostname, n.mac, n.serial, n.uuid, n.seedUrl, n.enrolledSeedUrl]), [
    ['cp1', '52:54:00:60:00:11', 'SN-CP1-0001', '4c4c4544-0042-3510-8052-b4c04f4e3231', `${URL_TOLD}/nodes/cp1/`, null],
    ['w1', '52:54:00:60:0a:2b', null, null, `${URL_TOLD}/nodes/w1/`, null],
    ['w2', null, null, null, `${URL_TOLD}/nodes/w2/`, null],
  ]);
  assert.deepEqual(plan.nodes[0]!.open.map((f) => `${f.name}:${f.needs}`), ['user-data:nothing', 'meta-data:nothing', 'network-config:nothing', 'vendor-data:nothing',
    'imgforge-bundle.tar:nothing', 'imgforge-secrets.tar:enrolment secret']);
  assert.match(plan.warnings.join('\n'), /over http/);
  const revealed = JSON.parse((await cli([...SERVE, '--dry-run', '--json', '--reveal'])).stdout) as typeof plan;
  assert.equal(revealed.nodes[1]!.enrolledSeedUrl, `${URL_TOLD}/nodes/w1/${enrolments.get('w1')}/`);
  const text = await cli([...SERVE, '--dry-run']);
  assert.match(text.stdout, /^cp1 +control-plane mac 52:54:00:60:00:11, serial SN-CP1-0001, uuid 4c4c4544-/m);
  assert.match(text.stdout, /enrolled seed \(--reveal prints its URL\)/);
  const bad = await cli([...SERVE, '--reveal']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--reveal .* goes with --dry-run/);
});

test('a serving process: answers, a second on its port exits 4 naming the port, SIGTERM stops it (exit 0) with its state kept', async () => {
  await preparedOnce(); // the cluster's secrets exist before the child reads them
  const state = tempDir('imgforge-serve-cli-');
  const child = spawn(process.execPath, [join(ROOT, 'bin/imgforge.js'), ...SERVE, '--state-dir', state, '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const lines = createInterface({ input: child.stdout });
  const next = (): Promise<Record<string, unknown>> => new Promise((resolve, reject) => {
    lines.once('line', (l) => resolve(JSON.parse(l) as Record<string, unknown>));
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  try {
    const listening = await next();
    assert.equal(listening['event'], 'listening');
    const port = listening['port'] as number;
    assert.equal((await raw(port, 'GET', '/nodes/w2/meta-data')).status, 200);
    const busy = cliProcess([...SERVE.slice(0, 3), '--listen', `127.0.0.1:${port}`, '--url', URL_TOLD, '--state-dir', tempDir()]);
    assert.equal(busy.code, 4, busy.stderr);
    assert.match(busy.stderr, new RegExp(`^The port is in use: Cannot listen on 127\\.0\\.0\\.1 port ${port}: another program holds it`, 'm'));
    const stopped = next();
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.deepEqual(await stopped, { event: 'stopped', signal: 'SIGTERM' });
    assert.equal(await exited, 0);
    assert.ok(existsSync(join(state, 'fetches.jsonl')), 'its state is on disk');
    assert.match(stderr, /"path":"\/nodes\/w2\/meta-data","status":200/, 'the access log, one JSON object per line on stderr');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('a config that fails check is not served: exit 1 with the findings (two nodes with one SMBIOS serial)', async () => {
  const dir = tempDir();
  const config = join(dir, 'dup.config.mjs');
  writeFileSync(config, `import base from ${JSON.stringify(CONFIG)};\nexport default { ...base, nodes: base.nodes.map((n) => ({ ...n, serial: 'SAME-1' })) };\n`);
  const r = await cli(['--config', config, 'serve', '--listen', '127.0.0.1:0', '--url', URL_TOLD, '--state-dir', join(dir, 'state')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /duplicate-serial: nodes\[0\] and nodes\[1\] and nodes\[2\] share the SMBIOS serial number SAME-1/);
  assert.ok(!existsSync(join(dir, 'state')), 'nothing served, no state made');
  const badSerial = join(dir, 'slash.config.mjs');
  writeFileSync(badSerial, `import base from ${JSON.stringify(CONFIG)};\nexport default { ...base, nodes: [{ ...base.nodes[0], serial: 'A/B' }, ...base.nodes.slice(1)] };\n`);
  const s = await cli(['--config', badSerial, 'check']);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /nodes\[0\]\.serial: must not contain "\/"/);
});
