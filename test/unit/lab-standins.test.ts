// The lab's API server stand-in as a process on this host: it serves HTTPS with the certificate it
// is given, and one client that connects and says nothing (a port probe, a stalled handshake) does
// not stop it serving every other client (its TLS handshakes once ran in the accept loop, and the
// whole lab's joins timed out behind one such connection). With Debian's real etcd behind it, two
// writers of one object do not undo each other (a kubelet's status patch once dropped the
// control-plane label kubeadm patched in at the same moment, and the leader waited for it forever),
// and an update naming a stale resourceVersion is refused (kube-vip's leader election needs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'node:https';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { calicoChartRepository, CALICO_CHART_VERSIONS } from '../lab/source.ts';
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
    if (i > 300) throw new Error(`${path}: ${r.status} ${r.body}`);
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

/** Debian's real etcd and the API server stand-in before it, on this host; one certificate for all (CN admin in system:masters). */
async function apiWithEtcd(): Promise<{ dir: string; api: number; admin: Call; kubeconfig: string; stop: () => void }> {
  const dir = tempDir();
  const key = join(dir, 'key.pem'), cert = join(dir, 'cert.pem');
  assert.equal(spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=admin/O=system:masters',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1']).status, 0);
  const base = 20000 + ((process.pid * 7 + Math.floor(Math.random() * 1000)) % 15000);
  const [client, peer, api] = [base, base + 1, base + 2];
  const etcd = spawn('etcd', ['--data-dir', join(dir, 'etcd'), '--listen-client-urls', `https://127.0.0.1:${client}`, '--advertise-client-urls', `https://127.0.0.1:${client}`,
    '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`, '--initial-cluster', `default=http://127.0.0.1:${peer}`,
    '--cert-file', cert, '--key-file', key, '--client-cert-auth', '--trusted-ca-file', cert], { stdio: ['ignore', 'ignore', 'pipe'] });
  let said = '';
  etcd.stderr.on('data', (c: Buffer) => { said = (said + c.toString()).slice(-2000); });
  const server = spawn('python3', [join(ROOT, 'test/lab/standins/apiserver.py'), `--secure-port=${api}`, '--bind-address=127.0.0.1',
    `--tls-cert-file=${cert}`, `--tls-private-key-file=${key}`, `--client-ca-file=${cert}`,
    `--etcd-servers=https://127.0.0.1:${client}`, `--etcd-cafile=${cert}`, `--etcd-certfile=${cert}`, `--etcd-keyfile=${key}`],
  { env: { ...process.env, IMGFORGE_STANDIN_CALLS: join(dir, 'calls.jsonl') }, stdio: 'ignore' });
  const stop = (): void => { server.kill(); etcd.kill(); };
  const kubeconfig = join(dir, 'admin.conf');
  writeFileSync(kubeconfig, `apiVersion: v1\nkind: Config\nclusters: [{ name: c, cluster: { server: "https://127.0.0.1:${api}", certificate-authority: "${cert}" } }]\n` +
    `users: [{ name: admin, user: { client-certificate: "${cert}", client-key: "${key}" } }]\ncontexts: [{ name: c, context: { cluster: c, user: admin } }]\ncurrent-context: c\n`);
  try {
    await ready(api, '/readyz', 200);
  } catch (e) {
    stop();
    throw new Error(`${(e as Error).message}\netcd said: ${said}`);
  }
  return { dir, api, kubeconfig, stop, admin: { key: readFileSync(key), cert: readFileSync(cert) } as unknown as Call };
}

test('the API server stand-in keeps every one of many concurrent patches to one Node, as the real one\'s optimistic concurrency does', { skip: tools('python3', 'openssl', 'etcd') }, async () => {
  const { api, admin, stop } = await apiWithEtcd();
  try {
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

    // An update that names the resourceVersion it read loses to any write since (leader election's lease).
    const lease = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/lock';
    const spec = (holder: string) => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'lock' }, spec: { holderIdentity: holder } });
    assert.equal((await get(api, lease.replace(/\/lock$/, ''), { ...admin, method: 'POST', body: spec('a') })).status, 201);
    const read = JSON.parse((await get(api, lease, admin)).body) as { metadata: { resourceVersion: string } };
    assert.match(read.metadata.resourceVersion, /^\d+$/);
    const b = await get(api, lease, { ...admin, method: 'PUT', body: { ...spec('b'), metadata: read.metadata } });
    assert.equal(b.status, 200);
    assert.notEqual((JSON.parse(b.body) as typeof read).metadata.resourceVersion, read.metadata.resourceVersion);
    assert.equal((await get(api, lease, { ...admin, method: 'PUT', body: { ...spec('c'), metadata: read.metadata } })).status, 409, 'a stale resourceVersion is a conflict');
    assert.equal((JSON.parse((await get(api, lease, admin)).body) as { spec: { holderIdentity: string } }).spec.holderIdentity, 'b');
  } finally {
    stop();
  }
});

test('the helm stand-in installs Calico\'s operator chart from a chart repository by the index\'s digest or from its packaged file, and refuses an archive that is not the index\'s', { skip: tools('python3', 'openssl', 'etcd') }, async () => {
  const { dir, api, admin, kubeconfig, stop } = await apiWithEtcd();
  const repo = join(dir, 'charts');
  calicoChartRepository(repo);
  const http = createServer((req, res) => {
    const file = join(repo, (req.url ?? '/').replace(/^\/charts\//, ''));
    if (!existsSync(file)) return void res.writeHead(404).end();
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/charts`;
  const calls = join(dir, 'helm-calls.jsonl');
  const helm = (...extra: string[]) => new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn('python3', [join(ROOT, 'test/lab/standins/helm'), 'upgrade', '--install', 'calico', ...(extra[0]?.endsWith('.tgz') ? extra : ['tigera-operator', '--repo', url, ...extra]),
      '--namespace', 'tigera-operator', '--create-namespace', '--set', 'installation.calicoNetwork.ipPools[0].cidr=10.244.0.0/16'],
    { env: { ...process.env, KUBECONFIG: kubeconfig, PYTHONPATH: join(ROOT, 'test/lab/standins'), IMGFORGE_STANDIN_CALLS: calls } });
    let out = '';
    p.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    p.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    p.on('close', (code) => resolve({ code, out }));
  });
  try {
    assert.deepEqual(await helm('--version', 'v9.9.9').then((r) => [r.code, /version "v9\.9\.9" not found/.test(r.out)]), [1, true]);
    const ok = await helm('--version', CALICO_CHART_VERSIONS[0]!);
    assert.equal(ok.code, 0, ok.out);
    const read = async (path: string) => JSON.parse((await get(api, path, admin)).body) as { spec?: { calicoNetwork?: { ipPools?: { cidr: string }[] } }; status?: { conditions: { type: string }[] }; type?: string };
    assert.equal((await read('/apis/operator.tigera.io/v1/installations/default')).spec?.calicoNetwork?.ipPools?.[0]?.cidr, '10.244.0.0/16', 'the --set reaches the Installation');
    assert.equal((await read('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/installations.operator.tigera.io')).status?.conditions[0]?.type, 'Established', 'the chart\'s CRD first');
    assert.equal((await get(api, '/apis/apps/v1/namespaces/tigera-operator/deployments/tigera-operator', admin)).status, 200);
    assert.equal((await read('/api/v1/namespaces/tigera-operator/secrets/sh.helm.release.v1.calico.v1')).type, 'helm.sh/release.v1', 'the release kept as helm 3 keeps it');
    // The packaged chart, as the cni stage passes it once it has checked the archive itself.
    const tgz = join(repo, `tigera-operator-${CALICO_CHART_VERSIONS[0]}.tgz`);
    const file = await helm(tgz);
    assert.equal(file.code, 0, file.out);
    // The archive changed after the index was made: refused, nothing installed for it.
    writeFileSync(tgz, Buffer.concat([readFileSync(tgz), Buffer.from([0])]));
    const bad = await helm('--version', CALICO_CHART_VERSIONS[0]!);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /does not match the digest of tigera-operator/);
    const recorded = readFileSync(calls, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { outcome: string; chart?: string; version?: string });
    assert.deepEqual(recorded.map((r) => r.outcome), ['refused', 'ok', 'ok', 'refused']);
    assert.deepEqual([recorded[2]!.chart, recorded[2]!.version], ['tigera-operator', CALICO_CHART_VERSIONS[0]], 'the packaged chart named by its Chart.yaml');
  } finally {
    http.close();
    stop();
  }
});
