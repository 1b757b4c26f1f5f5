// The lab's API server stand-in as a process on this host (no node, no etcd): it serves HTTPS with
// the certificate it is given, and one client that connects and says nothing (a port probe, a
// stalled handshake) does not stop it serving every other client. Its TLS handshakes once ran in
// the accept loop, and the whole lab's joins timed out behind one such connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:https';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { hasTool, ROOT, tempDir } from '../helpers.ts';

const get = (port: number, path: string): Promise<{ status: number; body: string }> => new Promise((resolve, reject) => {
  const req = request({ host: '127.0.0.1', port, path, rejectUnauthorized: false, timeout: 5000 }, (res) => {
    let body = '';
    res.on('data', (c: Buffer) => { body += c.toString(); });
    res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
  });
  req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 5 s`)));
  req.on('error', reject);
  req.end();
});

const open = (port: number): Promise<Socket> => new Promise((resolve, reject) => {
  const s = connect(port, '127.0.0.1', () => resolve(s));
  s.on('error', reject);
});

test('the API server stand-in answers every client while another holds a connection open without a word', { skip: (!hasTool('python3') || !hasTool('openssl')) && 'needs python3 and openssl' }, async () => {
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
