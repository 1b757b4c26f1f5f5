// What the lab adds around the nodes, without booting them: the config it builds from (mirrors,
// Debian's containerd, NTP at the gateway, the offline base), the package source's server, the
// switch's NTP answer, and the kubeadm stand-in's strict reader against the TypeScript one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCluster } from '../../src/config/index.ts';
import { labBoard, labConfigValue, labNotes, labRewrite, OFFLINE_PACKAGES } from '../../src/plan/lab-config.ts';
import { labNetwork } from '../../src/plan/lab-network.ts';
import { fileFor } from '../../src/execute/lab-server.ts';
import { ntpReply } from '../../src/execute/lab-switch.ts';
import { validateKubeadmStream } from '../kubeadm/strict.ts';
import { hasTool, ROOT, tempDir } from '../helpers.ts';

const EXAMPLE = join(ROOT, 'images.config.ts');

test('offline with a source: mirrors at the source, Debian\'s containerd and etcd, NTP at the gateway, every node on the offline base', async () => {
  const cluster = await loadCluster(EXAMPLE);
  const network = labNetwork(cluster.config);
  const subs = cluster.nodes.flatMap((n) => {
    const s = labBoard(n.config.board, cluster.profiles, 'offline');
    return s ? [{ hostname: n.config.hostname, board: n.config.board, ...s }] : [];
  });
  const r = labRewrite(cluster, subs, network, { offline: true, sourceUrl: 'http://192.168.1.1:4242', dockerMirror: false });
  const lab = await loadCluster(EXAMPLE, (v) => labConfigValue(v, r));
  const c = lab.config.cluster;
  assert.deepEqual(c.mirrors, { kubernetes: 'http://192.168.1.1:4242/kubernetes', downloads: 'http://192.168.1.1:4242/downloads' });
  assert.deepEqual([c.runtime.source, c.etcd.source], ['distro', 'distro']);
  assert.deepEqual(lab.config.network.ntp, ['192.168.1.1']);
  for (const n of lab.nodes) {
    const packages = n.profile.base.bootstrap?.packages ?? [];
    for (const p of [...OFFLINE_PACKAGES, 'cloud-init', 'openssh-server']) assert.ok(packages.includes(p), `${n.config.hostname}'s base has ${p}`);
    assert.ok(!packages.includes('etcd-server'), 'no etcd-server: Debian would start it and leave data kubeadm init refuses');
  }
  const notes = labNotes({ network, subs, assemble: true, rewrite: r, offline: true, source: { dir: '/src', url: 'http://192.168.1.1:4242' } });
  assert.deepEqual(notes.map((n) => n.split(':')[0]), ['DNS in the lab', 'cp01', 'cp02', 'worker01', 'worker02', 'worker03', 'worker04', 'packages and downloads from /src, served to the nodes at http', 'offline', 'offline']);
  assert.match(labNotes({ network, subs, assemble: true, rewrite: r, offline: true }).at(-1)!, /^warning: offline with no --source/);
  const online = labRewrite(cluster, [], network, { offline: false, dockerMirror: false });
  assert.deepEqual([online.mirrors, online.distro, online.ntp, online.bootstraps], [undefined, false, undefined, undefined], 'online: the nodes download as at home');
});

test('the source server serves files inside its folder only', () => {
  const root = tempDir();
  mkdirSync(join(root, 'kubernetes/core:/stable:/v1.35/deb'), { recursive: true });
  writeFileSync(join(root, 'kubernetes/core:/stable:/v1.35/deb/Release'), 'x');
  writeFileSync(join(root, '..', 'secret-beside'), 'y');
  assert.equal(fileFor(root, '/kubernetes/core:/stable:/v1.35/deb/Release'), join(root, 'kubernetes/core:/stable:/v1.35/deb/Release'));
  assert.equal(fileFor(root, '/kubernetes/core%3A/stable%3A/v1.35/deb/Release?x=1'), join(root, 'kubernetes/core:/stable:/v1.35/deb/Release'));
  for (const bad of ['/../secret-beside', '/%2e%2e/secret-beside', '/kubernetes/../../secret-beside', '/kubernetes', '/missing', '/%E0%A4%A']) assert.equal(fileFor(root, bad), null, bad);
});

/** An NTP client request as systemd-timesyncd sends it: mode 3, version 4, its transmit time. */
function ntpRequest(dstIp: string): Buffer {
  const eth = Buffer.from('525500000202' + '525400aabbcc' + '0800', 'hex');
  const ip = Buffer.from('4500004c0000400040110000' + '0a000210', 'hex');
  const dst = Buffer.from(dstIp.split('.').map(Number));
  const udp = Buffer.from('d431007b00380000', 'hex');
  const ntp = Buffer.alloc(48);
  ntp[0] = 0x23;
  ntp[2] = 6;
  ntp.write('0123456789abcdef', 40, 'hex');
  return Buffer.concat([eth, ip, dst, udp, ntp]);
}

test('the switch answers NTP at the gateway with the host\'s time, to the client, echoing its transmit time', () => {
  const now = Date.UTC(2026, 11, 1, 12, 0, 0, 500);
  const reply = ntpReply(ntpRequest('10.0.2.2'), '10.0.2.2', now)!;
  assert.ok(reply);
  assert.equal(reply.subarray(0, 6).toString('hex'), '525400aabbcc', 'to the client\'s MAC');
  assert.equal(reply.subarray(6, 12).toString('hex'), '525500000202', 'from the MAC it asked');
  assert.deepEqual([[...reply.subarray(26, 30)].join('.'), [...reply.subarray(30, 34)].join('.')], ['10.0.2.2', '10.0.2.16']);
  let sum = 0;
  for (let i = 14; i < 34; i += 2) sum += reply.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  assert.equal(sum, 0xffff, 'the IPv4 header checksum holds');
  assert.deepEqual([reply.readUInt16BE(34), reply.readUInt16BE(36)], [123, 0xd431]);
  const ntp = reply.subarray(42);
  assert.deepEqual([ntp[0]! & 7, (ntp[0]! >> 3) & 7, ntp[0]! >> 6, ntp[1]], [4, 4, 0, 1], 'server, v4, no leap warning, stratum 1');
  assert.equal(ntp.subarray(24, 32).toString('hex'), '0123456789abcdef', 'origin = the client\'s transmit time');
  assert.equal(ntp.readUInt32BE(40), Math.floor(now / 1000) + 2208988800, 'transmit time in NTP seconds');
  assert.equal(ntpReply(ntpRequest('10.0.2.3'), '10.0.2.2', now), null, 'only at the gateway');
  const server = ntpRequest('10.0.2.2');
  server[42] = 0x24;
  assert.equal(ntpReply(server, '10.0.2.2', now), null, 'not to another server\'s reply');
});

test('the kubeadm stand-in reads configurations as the tests\' strict reader does: the same accepted, the same refused', { skip: !hasTool('python3') && 'no python3' }, () => {
  const golden = readdirSync(join(ROOT, 'test/golden')).flatMap((c) => {
    try {
      return readdirSync(join(ROOT, 'test/golden', c, 'kubeadm')).map((f) => join(ROOT, 'test/golden', c, 'kubeadm', f));
    } catch {
      return [];
    }
  });
  assert.ok(golden.length >= 10);
  const first = readFileSync(golden.find((f) => f.endsWith('cp01.yaml'))!, 'utf8');
  const join1 = readFileSync(golden.find((f) => f.endsWith('worker01.yaml'))!, 'utf8');
  const cases = [
    ...golden.map((f) => readFileSync(f, 'utf8')),
    first.replace('nodeRegistration:', 'nodeRegistraton:'),
    first.replace(/token: "?([a-z0-9]{6})\.[a-z0-9]{16}"?/, 'token: $1.SHORT'),
    first.replace('kind: ClusterConfiguration', 'kind: ClusterConfig'),
    join1.replace(/sha256:[0-9a-f]{64}/, 'sha256:abc'),
    join1.replace(/caCertHashes:\n(\s+- .*\n)+/, ''),
    `${first}---\n${join1}`,
  ];
  const py = `import json, sys\nsys.path.insert(0, ${JSON.stringify(join(ROOT, 'test/lab/standins'))})\nimport strict\nprint(json.dumps([strict.validate(t)[0] for t in json.load(sys.stdin)]))`;
  const r = spawnSync('python3', ['-c', py], { input: JSON.stringify(cases), encoding: 'utf8', env: { ...process.env, IMGFORGE_STANDIN_FIELDS: join(ROOT, 'test/kubeadm/fields') } });
  assert.equal(r.status, 0, r.stderr);
  const python = JSON.parse(r.stdout) as string[][];
  cases.forEach((text, i) => {
    const ts = validateKubeadmStream(text);
    assert.equal(python[i]!.length === 0, ts.length === 0, `case ${i}: python ${JSON.stringify(python[i])} vs ts ${JSON.stringify(ts)}`);
  });
  assert.ok(python.slice(golden.length).every((e) => e.length > 0), 'every broken case is refused');
  assert.ok(python.slice(0, golden.length).every((e) => e.length === 0), 'every document imgforge renders is accepted');
});
