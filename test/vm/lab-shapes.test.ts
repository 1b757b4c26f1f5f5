// The other shapes of issue 10 form in the offline lab (boot suite, test:all), each as small as the
// shape allows on this machine:
// - seed 001's: keepalived with HAProxy on the control plane (the endpoint the VIP at HAProxy's
//   port 8443, the API server behind it on 6443) and Calico by Tigera's operator chart through
//   Helm (the helm stand-in from its pinned release tarball, the chart from the source's chart
//   repository by the index's digest, its archive at its GitHub release path through the downloads mirror);
// - kube-vip holding the VIP (the stand-in run by the kubelet stand-in from kube-vip's static pod,
//   leader election on its Lease) with seed 004's external etcd (Debian's real etcd on a node of
//   role etcd, which the API server keeps the cluster in).
// In both, a worker joins through the VIP with the pinned CA hash.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEvents } from '../../src/protocol/events.ts';
import { buildLabSource } from '../lab/source.ts';
import { labFixture, type LabFixture } from '../lab/fixture.ts';
import { cli, requireTool, ROOT } from '../helpers.ts';

// Two and three VMs for about ten minutes each under TCG: `npm run test:all` runs them; CI runs lab-assembly.
const enabled = process.env['IMGFORGE_BOOT_TESTS'] === '1';
const CACHE = process.env['IMGFORGE_CACHE_DIR'] ?? join(ROOT, '.cache/imgforge');
const CA = '--cacert /etc/kubernetes/pki/ca.crt';

interface Call { tool: string; args: string[]; outcome: string; discovered?: string; chart?: string; version?: string; values?: { installation?: { calicoNetwork?: { ipPools?: { cidr: string }[] } } } }
const calls = (out: string): Call[] => out.split('\n').filter((l) => l.startsWith('{"tool"')).map((l) => JSON.parse(l) as Call);

/** A lab of the shape `body` gives (see labFixture), brought up offline from a source of the stand-ins; asserts it formed. */
function shape(body: string) {
  const s = { config: '', lab: '', ssh: (() => Promise.reject(new Error('no lab'))) as LabFixture['ssh'] };
  const run = (args: string[]) => cli(['--config', s.config, 'lab', ...args]);
  before(() => {
    for (const t of ['qemu-system-x86_64', 'qemu-img', 'mmdebstrap', 'ssh', 'ssh-keygen', 'dpkg-deb', 'gpg']) requireTool(t);
    ({ config: s.config, lab: s.lab, ssh: s.ssh } = labFixture(body));
  });
  after(async () => {
    if (existsSync(join(s.lab, 'lab.json'))) await run(['down']);
  });
  const up = async (): Promise<void> => {
    const source = buildLabSource('1.35.3');
    const r = await run(['up', '--offline', '--source', source.dir, '--json', '--timeout', '2400', '--cache-dir', CACHE]);
    const result = JSON.parse(r.stdout) as { outcome: string; nodes: unknown[]; stuck: unknown };
    assert.equal(result.outcome, 'formed', `${r.stderr.slice(-3000)}\n${JSON.stringify(result.nodes)}\n${JSON.stringify(result.stuck)}`);
  };
  const ok = (node: string, stage: string): boolean =>
    parseEvents(readFileSync(join(s.lab, `${node}.events`), 'utf8')).events.some((e) => e.stage === stage && e.state === 'ok');
  /** The worker's one join: through `endpoint`, discovery finding the CA its config pins. */
  const joinedThrough = async (endpoint: string): Promise<void> => {
    const out = (await s.ssh('vm2', 'sudo grep -o "sha256:[0-9a-f]*" /etc/imgforge/secrets/kubeadm.yaml; sudo grep "apiServerEndpoint:" /etc/imgforge/secrets/kubeadm.yaml; sudo cat /var/lib/imgforge-standins/calls.jsonl')).out;
    const joins = calls(out).filter((c) => c.tool === 'kubeadm' && c.args[0] === 'join');
    assert.equal(joins.length, 1, 'one join');
    assert.deepEqual([joins[0]!.outcome, joins[0]!.discovered], ['ok', /^sha256:[0-9a-f]{64}$/m.exec(out)?.[0]], 'discovery found the pinned CA');
    assert.match(out, new RegExp(`apiServerEndpoint: ${endpoint.replaceAll('.', '\\.')}$`, 'm'), `the worker joins through ${endpoint}`);
  };
  return { s, up, ok, joinedThrough };
}

describe('lab: keepalived with HAProxy and Calico (seed 001\'s shape) form', { skip: !enabled && 'set IMGFORGE_BOOT_TESTS=1 (npm run test:all)', concurrency: false }, () => {
  const { s, up, ok, joinedThrough } = shape(`export default { ...base, users,
  cluster: { ...base.cluster, controlPlaneEndpoint: { vip: '10.0.2.100', port: 8443, provider: 'keepalived+haproxy' }, cni: { plugin: 'calico', version: '3.32.1' } },
  nodes: [{ ...vm1, overrides: undefined }, { ...vm2, overrides: undefined }] };`);

  test('the VIP at HAProxy\'s port reaches the API server, Calico comes by its chart, the worker joins at VIP:8443', async () => {
    await up();
    for (const stage of ['api-vip', 'kubeadm-init', 'cni', 'token-cleanup']) assert.ok(ok('vm1', stage), `vm1: ${stage} ok`);
    assert.ok(ok('vm2', 'kubeadm-join'), 'vm2: kubeadm-join ok');
    const leader = (await s.ssh('vm1', [
      'systemctl is-active keepalived haproxy | sed "s/^/unit /"',
      'ip -o -4 addr show | grep -c " 10.0.2.100/" | sed "s/^/vip /"',
      'ss -Hltn "sport = :8443" | grep -c LISTEN | sed "s/^/listening on 8443: /"',
      `sudo curl -sf ${CA} https://10.0.2.100:8443/readyz | sed "s/^/api at VIP:8443: /"; echo`,
      'sudo kubectl --kubeconfig /etc/kubernetes/admin.conf get installation default -o name',
      'sudo cat /var/lib/imgforge-standins/calls.jsonl',
    ].join('; '))).out;
    assert.match(leader, /^unit active\nunit active$/m, 'keepalived and HAProxy run');
    assert.match(leader, /^vip 1$/m, 'the leader holds the VIP');
    assert.match(leader, /^listening on 8443: [1-9]/m, 'HAProxy listens on the endpoint\'s port');
    assert.match(leader, /^api at VIP:8443: ok$/m, 'the API answers through HAProxy at the VIP with a certificate of the cluster CA');
    assert.match(leader, /^installation\.operator\.tigera\.io\/default$/m, 'the Installation exists');
    const helm = calls(leader).filter((c) => c.tool === 'helm');
    assert.equal(helm.length, 1, 'one helm install');
    assert.deepEqual([helm[0]!.outcome, helm[0]!.chart, helm[0]!.version], ['ok', 'tigera-operator', 'v3.32.1']);
    assert.equal(helm[0]!.values?.installation?.calicoNetwork?.ipPools?.[0]?.cidr, '10.244.0.0/16', 'the pod CIDR reaches the Installation');
    await joinedThrough('10.0.2.100:8443');
    const served = readFileSync(join(s.lab, 'source.log'), 'utf8');
    assert.match(served, /GET \/downloads\/get\.helm\.sh\/helm-v[\d.]+-linux-amd64\.tar\.gz 200/);
    // The index as Tigera's names the archive by its GitHub release URL: fetched through the downloads mirror.
    assert.match(served, /GET \/downloads\/docs\.tigera\.io\/calico\/charts\/index\.yaml 200/);
    assert.match(served, /GET \/downloads\/github\.com\/projectcalico\/calico\/releases\/download\/v3\.32\.1\/tigera-operator-v3\.32\.1\.tgz 200/);
  });
});

describe('lab: kube-vip with external etcd (seed 004\'s etcd) forms', { skip: !enabled && 'set IMGFORGE_BOOT_TESTS=1 (npm run test:all)', concurrency: false }, () => {
  const { s, up, ok, joinedThrough } = shape(`const etcd1 = { hostname: 'etcd1', board: 'x86-debian', role: 'etcd', address: '10.0.2.17/24', mac: '52:54:00:12:34:58', layout: { root: { size: '75%' }, reserved: [] } };
export default { ...base, users,
  cluster: { ...base.cluster, name: 'vmkv', controlPlaneEndpoint: { vip: '10.0.2.100', provider: 'kube-vip' }, etcd: { topology: 'external' } },
  nodes: [etcd1, { ...vm1, overrides: undefined }, { ...vm2, overrides: undefined }] };`);

  test('kube-vip holds the VIP by its lease, the API keeps the cluster in the etcd node\'s etcd, the worker joins at the VIP', async () => {
    await up();
    assert.ok(ok('etcd1', 'etcd-external'), 'etcd1: etcd-external ok');
    for (const stage of ['api-vip', 'kubeadm-init', 'cni', 'token-cleanup']) assert.ok(ok('vm1', stage), `vm1: ${stage} ok`);
    assert.ok(ok('vm2', 'kubeadm-join'), 'vm2: kubeadm-join ok');
    const leader = (await s.ssh('vm1', [
      'ip -o -4 addr show | grep -c " 10.0.2.100/32" | sed "s/^/vip /"',
      'systemctl is-active keepalived | sed "s/^/keepalived /"',
      'test -e /etc/kubernetes/manifests/etcd.yaml && echo "local etcd" || echo "no local etcd"',
      'sudo grep -c "path: /etc/kubernetes/admin.conf" /etc/kubernetes/manifests/kube-vip.yaml | sed "s/^/kube-vip with admin.conf: /"',
      `sudo curl -sf ${CA} https://10.0.2.100:6443/readyz | sed "s/^/api at the VIP: /"; echo`,
      'sudo cat /var/lib/imgforge-standins/calls.jsonl',
    ].join('; '))).out;
    assert.match(leader, /^vip 1$/m, 'kube-vip put the VIP on the leader');
    assert.doesNotMatch(leader, /^keepalived active$/m, 'no keepalived');
    assert.match(leader, /^no local etcd$/m);
    assert.match(leader, /^kube-vip with admin\.conf: 1$/m, 'kube-vip left super-admin.conf after init');
    assert.match(leader, /^api at the VIP: ok$/m);
    const led = calls(leader);
    assert.ok(led.some((c) => c.tool === 'kube-vip' && c.outcome === 'holds the VIP'));
    assert.equal(led.filter((c) => c.tool === 'kubeadm' && c.args[0] === 'init').length, 1, 'exactly one kubeadm init');
    // The cluster's objects are in etcd1's etcd: the API server has no other.
    const etcdctl = 'sudo ETCDCTL_API=3 etcdctl --endpoints=https://10.0.2.17:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key';
    const etcd = (await s.ssh('etcd1', `${etcdctl} get --prefix --keys-only /registry/core/nodes/; ${etcdctl} get --print-value-only /registry/coordination.k8s.io/leases/kube-system/plndr-cp-lock`)).out;
    assert.match(etcd, /^\/registry\/core\/nodes\/_\/vm1$/m);
    assert.match(etcd, /^\/registry\/core\/nodes\/_\/vm2$/m);
    assert.match(etcd, /"holderIdentity": "vm1"/, 'vm1 leads by kube-vip\'s lease');
    await joinedThrough('10.0.2.100:6443');
  });
});
