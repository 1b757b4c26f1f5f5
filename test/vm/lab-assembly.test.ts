// A self-assembling config forms in the offline lab (boot suite): a leader and a worker, booted
// together. Their packages stage installs kubeadm, kubelet, kubectl and cri-tools from the lab's
// package source (an apt repository signed by a key made here, accepted by its pinned
// fingerprint; the packages are the stand-ins of test/lab) with Debian's real containerd; the
// leader's api-vip stage runs Debian's real keepalived and holds the VIP; kubeadm init runs once
// (the stand-in: certificates from the pre-seeded CAs, the real etcd as a static pod, the API
// server stand-in); the CNI stage installs the Cilium CLI stand-in from the source by its pinned
// digest; the worker joins through the VIP, checking cluster-info's signature and the CA's hash;
// the leader deletes the token once both are in. NTP comes from the lab's switch.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEvents } from '../../src/protocol/events.ts';
import { buildLabSource } from '../lab/source.ts';
import { assertInstalled, INSTALLED, labFixture, type LabFixture } from '../lab/fixture.ts';
import { cli, requireTool, ROOT } from '../helpers.ts';

const enabled = process.env['CI'] === 'true' || process.env['IMGFORGE_BOOT_TESTS'] === '1';
const CACHE = process.env['IMGFORGE_CACHE_DIR'] ?? join(ROOT, '.cache/imgforge');

describe('lab: a leader and a worker assemble from the lab\'s package source', { skip: !enabled && 'set IMGFORGE_BOOT_TESTS=1 (CI runs them)', concurrency: false }, () => {
  let config = '', lab = '';
  let ssh: LabFixture['ssh'] = () => Promise.reject(new Error('no lab fixture'));
  let source = { dir: '', fingerprint: '' };
  const run = (args: string[]) => cli(['--config', config, 'lab', ...args]);
  const events = (node: string) => parseEvents(readFileSync(join(lab, `${node}.events`), 'utf8')).events;
  const calls = (out: string) => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { tool: string; args: string[]; outcome: string; message?: string; discovered?: string });

  before(() => {
    for (const t of ['qemu-system-x86_64', 'qemu-img', 'mmdebstrap', 'ssh', 'ssh-keygen', 'dpkg-deb', 'gpg']) requireTool(t);
    ({ config, lab, ssh } = labFixture('export default { ...base, users, nodes: [{ ...vm1, overrides: undefined }, { ...vm2, overrides: undefined }] };'));
    source = buildLabSource('1.35.3');
  });

  after(async () => {
    if (existsSync(join(lab, 'lab.json'))) await run(['down']);
  });

  test('the cluster forms: packages from the source by the pinned key, the VIP on the leader, one init with the real etcd, the worker joins through the VIP with the pinned CA hash', async () => {
    const up = await run(['up', '--offline', '--source', source.dir, '--json', '--timeout', '1800', '--cache-dir', CACHE]);
    const result = JSON.parse(up.stdout) as { outcome: string; notes: string[]; nodes: { hostname: string; reported: string | null; lastProblem: string | null }[]; stuck: Record<string, string[]> };
    assert.equal(result.outcome, 'formed', `${up.stderr.slice(-3000)}\n${JSON.stringify(result.nodes)}\n${JSON.stringify(result.stuck)}`);
    assert.equal(up.code, 0);
    assert.ok(result.notes.some((n) => /^packages and downloads from .* served to the nodes at http:\/\/10\.0\.2\.2:\d+/.test(n)), result.notes.join('\n'));
    assert.ok(result.notes.some((n) => /^offline: NTP at 10\.0\.2\.2, answered by the lab's switch/.test(n)));
    const ok = (node: string, stage: string): boolean => events(node).some((e) => e.stage === stage && e.state === 'ok');
    for (const stage of ['packages', 'api-vip', 'kubeadm-init', 'cni', 'token-cleanup']) assert.ok(ok('vm1', stage), `vm1: ${stage} ok`);
    for (const stage of ['packages', 'kubeadm-join']) assert.ok(ok('vm2', stage), `vm2: ${stage} ok`);

    // The leader's own view: what apt installed and from where, what runs, what the stand-ins were asked.
    const admin = 'kubectl --kubeconfig /etc/kubernetes/admin.conf --request-timeout=10s';
    const etcdctl = 'ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key';
    const leader = (await ssh('vm1', [
      ...INSTALLED,
      'ip -o -4 addr show | grep -c " 10.0.2.100/" | sed "s/^/vip /"',
      `sudo ${etcdctl} member list | sed "s/^/etcd /"`,
      'sudo curl -sf --cacert /etc/kubernetes/pki/ca.crt https://10.0.2.100:6443/readyz | sed "s/^/api at the VIP: /"; echo',
      `sudo ${admin} get nodes -o name`,
      `sudo ${admin} -n kube-system get secret "bootstrap-token-$(sudo sed -n 's/^  - token: \\([a-z0-9]\\{6\\}\\)\\..*/\\1/p' /etc/imgforge/secrets/kubeadm.yaml)" 2>&1 | sed "s/^/token: /"`,
      'sudo cat /var/lib/imgforge-standins/calls.jsonl',
    ].join('; '))).out;
    assertInstalled(leader, source.fingerprint);
    assert.match(leader, /^vip 1$/m, 'the leader holds the VIP');
    assert.match(leader, /^etcd [0-9a-f]+, started, vm1, https:\/\/10\.0\.2\.15:2380, https:\/\/10\.0\.2\.15:2379, false$/m, 'the real etcd runs with vm1 as its member');
    assert.match(leader, /^api at the VIP: ok$/m, 'the API answers at the VIP with a certificate of the cluster CA');
    assert.match(leader, /^node\/vm1\nnode\/vm2$/m, 'both nodes are in the cluster');
    assert.match(leader, /^token: Error from server \(NotFound\)/m, 'the bootstrap token is deleted');
    const led = calls(leader);
    assert.equal(led.filter((c) => c.tool === 'kubeadm' && c.args[0] === 'init').length, 1, 'exactly one kubeadm init, no phase re-run');
    assert.ok(led.some((c) => c.tool === 'kubeadm' && c.args[0] === 'init' && c.outcome === 'ok'));
    assert.ok(led.some((c) => c.tool === 'cilium' && c.args[0] === 'install' && c.outcome === 'ok'), 'Cilium installed by its CLI from the source');
    assert.ok(led.some((c) => c.tool === 'kubeadm' && c.args.join(' ').startsWith('token delete') && c.outcome === 'ok'));

    // The worker joined through the VIP, with the CA pinned by the hash of its config.
    const worker = (await ssh('vm2', 'sudo grep -o "sha256:[0-9a-f]*" /etc/imgforge/secrets/kubeadm.yaml; sudo grep -c "apiServerEndpoint: 10.0.2.100:6443" /etc/imgforge/secrets/kubeadm.yaml; sudo cat /var/lib/imgforge-standins/calls.jsonl')).out;
    const pinned = /^sha256:[0-9a-f]{64}$/m.exec(worker)?.[0];
    const joins = calls(worker).filter((c) => c.tool === 'kubeadm' && c.args[0] === 'join');
    assert.equal(joins.length, 1, 'one join');
    assert.deepEqual([joins[0]!.outcome, joins[0]!.discovered], ['ok', pinned], 'discovery found the pinned CA');
    assert.match(worker, /^1$/m, 'through the VIP');
    // What the nodes fetched from the source, by the source's own log.
    const served = readFileSync(join(lab, 'source.log'), 'utf8');
    assert.match(served, /GET \/kubernetes\/core:\/stable:\/v1\.35\/deb\/Release\.key 200/);
    assert.match(served, /GET \/kubernetes\/core:\/stable:\/v1\.35\/deb\/\.\/kubeadm_1\.35\.3-1\.1_amd64\.deb 200/);
    assert.match(served, /GET \/downloads\/github\.com\/cilium\/cilium-cli\/releases\/download\/v0\.19\.7\/cilium-linux-amd64\.tar\.gz 200/);
  });
});
