// The lab's API server stand-in as a process on this host: it serves HTTPS with the certificate it
// is given, and one client that connects and says nothing (a port probe, a stalled handshake) does
// not stop it serving every other client (its TLS handshakes once ran in the accept loop, and the
// whole lab's joins timed out behind one such connection). With Debian's real etcd behind it, two
// writers of one object do not undo each other (a kubelet's status patch once dropped the
// control-plane label kubeadm patched in at the same moment, and the leader waited for it forever).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { hasTool, ROOT, tempDir } from '../helpers.ts';

interface Call { method?: string; body?: unknown; key?: string; cert?: string }
const get = (port: number, path: string, call: Call = {}): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
  const data = call.body === undefined ? undefined : JSON.stringify(call.body);
  const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, timeout: 5000, method: call.method ?? 'GET', key: call.key, cert: call.cert,
    headers: data === undefined ? {} : { 'Content-Type': call.method === 'PATCH' ? 'application/merge-patch+json' : 'application/json', 'Content-Length': Buffer.byteLength(data) } }, (res) => {
    let body = '';
    res.on('data', (c: Buffer) => { body += c.toString(); });
    res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
  });
  req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 5 s`)));
  req.on('error', reject);
  req.end(data);
});

const open = (port: number): Promise<Socket> => new Promise((resolve, reject) => {
  const s = connect(port, '127.0.0.1', () => resolve(s));
  s.on('error', reject);
});

const ready = async (port: number, path: string, want: number): Promise<void> => {
  for (let i = 0; ; i++) {
    const r = await get(port, path).catch((e: Error) => ({ status: 0, body: e.message }));
    if (r.status === want) return;
    if (i > 100) throw new Error(`${path}: ${r.status} ${r.body}`);
    await new Promise((res) => setTimeout(res, 200));
  }
};

const tools = (...names: string[]): string | false => names.every(hasTool) ? false : `needs ${names.join(', ')}`;

test('the API server stand-in answers every client while another holds a connection open without a word', { skip: tools('python3', 'openssl') }, async () => {
  const dir = tempDir();
  const key = join(dir, 'key.pem'), cert = join(dir, 'cert.pem');
  assert.equal(spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=kube-apiserver', '-days', '1']).status, 0);
  const port = 20000 + (process.pid % 20000);
  const server = spawn('python3', [join(ROOT, 'test/lab/standins/apiserver.py'), `--secure-port=${port}`, '--bind-address=127.0.0.1',
    `--tls-cert-file=${cert}`, `--tls-private-key-file=${key}`, `--client-ca-file=${cert}`,
    '--etcd-servers=https://127.0.0.1:9', `--etcd-cafile=${cert}`, `--etcd-certfile=${cert}`, `--etcd-keyfile=${key}`],
  { env: { ...process.env, IMGFORGE_STANDIN_CALLS: join(dir, 'calls.jsonl') }, stdio: 'ignore' });
  const idle: Socket[] = [];
  try {
    for (let i = 0; ; i++) {
      try {
        idle.push(await open(port));
        break;
      } catch (e) {
        if (i > 50) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    idle.push(await open(port));
    const version = await get(port, '/version');
    assert.equal(version.status, 200);
    assert.match(version.body, /"gitVersion"/);
    // No etcd behind it: not ready, and it says why.
    const ready = await get(port, '/readyz');
    assert.equal(ready.status, 500);
    assert.match(ready.body, /^etcd: /);
  } finally {
    for (const s of idle) s.destroy();
    server.kill();
  }
});

test('the API server stand-in keeps every one of many concurrent patches to one Node, as the real one\'s optimistic concurrency does', { skip: tools('python3', 'openssl', 'etcd') }, async () => {
  const dir = tempDir();
  const key = join(dir, 'key.pem'), cert = join(dir, 'cert.pem');
  // One self-signed certificate for etcd, the API server and the client: CN admin in system:masters.
  assert.equal(spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=admin/O=system:masters',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1']).status, 0);
  const base = 20000 + (process.pid % 15000);
  const [client, peer, api] = [base, base + 1, base + 2];
  const etcd = spawn('etcd', ['--data-dir', join(dir, 'etcd'), '--listen-client-urls', `https://127.0.0.1:${client}`, '--advertise-client-urls', `https://127.0.0.1:${client}`,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`, '--initial-cluster', `default=http://127.0.0.1:${peer}`,
    '--cert-file', cert, '--key-file', key, '--client-cert-auth', '--trusted-ca-file', cert], { stdio: 'ignore' });
  const server = spawn('python3', [join(ROOT, 'test/lab/standins/apiserver.py'), `--secure-port=${api}`, '--bind-address=127.0.0.1',
    `--tls-cert-file=${cert}`, `--tls-private-key-file=${key}`, `--client-ca-file=${cert}`,
    `--etcd-servers=https://127.0.0.1:${client}`, `--etcd-cafile=${cert}`, `--etcd-certfile=${cert}`, `--etcd-keyfile=${key}`],
  { env: { ...process.env, IMGFORGE_STANDIN_CALLS: join(dir, 'calls.jsonl') }, stdio: 'ignore' });
  try {
    await ready(api, '/readyz', 200);
    const admin = { key: readFileSync(key), cert: readFileSync(cert) } as unknown as Call;
    const node = '/api/v1/nodes/n1';
    assert.equal((await get(api, '/api/v1/nodes', { ...admin, method: 'POST', body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } } })).status, 201);
    assert.equal((await get(api, '/api/v1/nodes', { ...admin, method: 'POST', body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } } })).status, 409);
    // Labels and status patches at once, as kubeadm's mark-control-plane and a kubelet's heartbeat.
    const patches = Array.from({ length: 24 }, (_, i) => i % 2
      ? { status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: `t${i}` }] } }
      : { metadata: { labels: { [`l${i}`]: '' } } });
    const results = await Promise.all(patches.map((body) => get(api, node, { ...admin, method: 'PATCH', body })));
    assert.deepEqual(results.map((r) => r.status), patches.map(() => 200));
    const labels = Object.keys((JSON.parse((await get(api, node, admin)).body) as { metadata: { labels: Record<string, string> } }).metadata.labels).sort();
    assert.deepEqual(labels, patches.flatMap((_, i) => i % 2 ? [] : [`l${i}`]).sort());
  } finally {
    server.kill();
    etcd.kill();
  }
});
