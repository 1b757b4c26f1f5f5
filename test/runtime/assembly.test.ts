// The assembly stages run for real against scratch roots, one per node of a real config, with
// recording stand-ins for apt, curl, kubeadm, kubectl, etcdctl and systemctl (test/runtime/
// fake-cluster) and a shared world for what other machines answer. They assert the order of the
// calls, one kubeadm init (also after a power cut between any two calls), joins one at a time,
// bounded waits, the events, and the keys a worker does not hold.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { ClusterRigs } from './cluster-rig.ts';
import type { Rig } from './rig.ts';

const HOMELAB = join(ROOT, 'images.config.ts');
const last = (rig: Rig, stage: string) => rig.events().filter((e) => e.stage === stage).at(-1)!;
/** kubeadm init runs that made the cluster's kubeconfigs (a call the power cut before it ran is recorded, not run). */
const inits = (rig: Rig) => (existsSync(rig.path('.fake/inits-run')) ? readFileSync(rig.path('.fake/inits-run'), 'utf8').split('\n').filter(Boolean).length : 0);
const keysUnder = (rig: Rig, dir: string): string[] =>
  existsSync(rig.path(dir)) ? (readdirSync(rig.path(dir), { recursive: true }) as string[]).filter((f) => f.endsWith('.key')) : [];

/** A leader that has installed its packages, holds the VIP and has run init, in world w. */
function initLeader(c: ClusterRigs, host = 'cp01'): Rig {
  const leader = c.node(host);
  for (const s of ['packages', 'api-vip', 'kubeadm-init']) assert.equal(leader.stage(s, c.env(host)).status, 0, `${s}: ${JSON.stringify(last(leader, s))}`);
  return leader;
}

describe('packages', () => {
  test('repositories with checked keys, then the pinned versions, held; containerd with imgforge\'s config; a second run changes nothing', async () => {
    const c = await ClusterRigs.of(HOMELAB);
    const rig = c.node('cp01');
    assert.equal(rig.stage('packages', c.env('cp01')).status, 0);
    const calls = rig.calls().filter((x) => !['logger', 'sync', 'dpkg-query'].includes(x[0]!)).map((x) => x.slice(0, 2).join(' '));
    const at = (s: string) => calls.indexOf(s);
    assert.ok(at('curl -fsSL') >= 0 && at('curl -fsSL') < at('apt-get update') && at('apt-get update') < at('apt-get install'), calls.join('\n'));
    const install = rig.calls('apt-get').find((x) => x[1] === 'install')!;
    for (const p of ['kubelet=1.35.3-1.1', 'kubeadm=1.35.3-1.1', 'kubectl=1.35.3-1.1', 'containerd.io=2.2.1-1', 'cri-tools', 'etcd-client', 'keepalived']) assert.ok(install.includes(p), p);
    assert.deepEqual(rig.calls('apt-mark')[0], ['apt-mark', 'hold', 'kubelet', 'kubeadm', 'kubectl', 'containerd.io']);
    assert.equal(rig.read('etc/apt/sources.list.d/imgforge-kubernetes.list'),
      'deb [signed-by=/etc/apt/keyrings/imgforge-kubernetes.gpg] https://pkgs.k8s.io/core:/stable:/v1.35/deb/ / \n');
    assert.equal(rig.read('etc/apt/sources.list.d/imgforge-containerd.list'),
      'deb [signed-by=/etc/apt/keyrings/imgforge-containerd.gpg] https://download.docker.com/linux/ubuntu noble stable\n');
    const toml = rig.read('etc/containerd/config.toml');
    assert.match(toml, /sandbox_image = "registry.k8s.io\/pause:3.10.1"/);
    assert.match(toml, /SystemdCgroup = true/);
    assert.ok(last(rig, 'packages').state === 'ok' && last(rig, 'packages').changed === true);
    // No NTP sync in this rig: the stage waited its 3 minutes (of the fake clock), said so, and went on.
    assert.ok(rig.events().some((e) => e.state === 'note' && /^warning: the clock is not synchronised/.test(e.msg ?? '')));
    rig.clearCalls();
    assert.equal(rig.stage('packages', c.env('cp01')).status, 0);
    assert.deepEqual(rig.calls('apt-get'), []);
    assert.equal(last(rig, 'packages').changed, false);
  });

  test('a signing key whose fingerprint is not the pinned one: nothing is trusted, nothing installed, no retry', async () => {
    const c = await ClusterRigs.of(HOMELAB);
    const rig = c.node('cp01', (doc) => { doc.assembly!.packages!.kubernetes.fingerprint = 'A'.repeat(40); });
    // With the clock synchronised there is no wait and no warning.
    rig.write('run/systemd/timesync/synchronized', '');
    assert.equal(rig.stage('packages', c.env('cp01')).status, 1);
    assert.match(last(rig, 'packages').msg!, /has fingerprint [0-9A-F]{40}, not the pinned A{40}/);
    assert.equal(rig.events().filter((e) => e.state === 'retry').length, 0, 'fatal: not retried');
    assert.deepEqual(rig.calls('apt-get'), []);
    assert.ok(!existsSync(rig.path('etc/apt/sources.list.d/imgforge-kubernetes.list')));
    assert.ok(!existsSync(rig.path('etc/apt/keyrings/imgforge-kubernetes.gpg')));
    assert.ok(!rig.events().some((e) => /clock/.test(e.msg ?? '')));
  });

  test('a release the repository does not have fails naming it; the base\'s own containerd when the config says distro', async () => {
    const c = await ClusterRigs.of(HOMELAB);
    writeFileSync(join(c.world, 'apt/kubeadm'), '1.35.2-1.1\n');
    const rig = c.node('worker02', (doc) => { doc.assembly!.packages!.containerd = { repo: null, package: 'containerd', line: null, held: ['containerd'] }; });
    assert.equal(rig.stage('packages', c.env('worker02')).status, 1);
    assert.match(last(rig, 'packages').msg!, /has no kubeadm 1\.35\.3/);
    writeFileSync(join(c.world, 'apt/kubeadm'), '1.35.3-1.1\n');
    assert.equal(rig.stage('packages', c.env('worker02')).status, 0);
    assert.ok(rig.calls('apt-get').find((x) => x[1] === 'install')!.includes('containerd=1.7.24-0ubuntu1'));
    assert.ok(!existsSync(rig.path('etc/apt/sources.list.d/imgforge-containerd.list')));
  });
});

describe('kubeadm init on the leader', () => {
  test('the VIP first, then one init; keepalived.conf is 0600 with the node\'s interface; a later run changes nothing', async () => {
    const c = await ClusterRigs.of(HOMELAB);
    const cp01 = initLeader(c);
    assert.equal(inits(cp01), 1);
    const conf = cp01.read('etc/keepalived/keepalived.conf');
    assert.match(conf, /interface lan0\n/);
    assert.match(conf, /priority 200\n/);
    assert.match(conf, new RegExp(`auth_pass ${c.secrets.vrrpPassword}\n`));
    assert.equal(statSync(cp01.path('etc/keepalived/keepalived.conf')).mode & 0o777, 0o600);
    const order = cp01.calls().filter((x) => (x[0] === 'systemctl' && x.includes('keepalived')) || (x[0] === 'kubeadm' && x[1] === 'init')).map((x) => x[0]);
    assert.equal(order.indexOf('systemctl') < order.indexOf('kubeadm'), true, 'keepalived runs before kubeadm init');
    assert.equal(cp01.calls('kubeadm').find((x) => x[1] === 'init')!.at(-1), join(cp01.root, 'etc/imgforge/secrets/kubeadm.yaml'));
    cp01.clearCalls();
    assert.equal(cp01.stage('kubeadm-init', c.env('cp01')).status, 0);
    assert.deepEqual(cp01.calls('kubeadm'), []);
    assert.equal(last(cp01, 'kubeadm-init').changed, false);
  });

  test('a power cut between any two calls of the stage, or inside init after any phase: the next boot converges with init run once', async () => {
    const c = await ClusterRigs.of(HOMELAB);
    const base = c.node('cp01');
    for (const s of ['packages', 'api-vip']) assert.equal(base.stage(s, c.env('cp01')).status, 0);
    base.clearCalls();
    assert.equal(base.stage('kubeadm-init', c.env('cp01')).status, 0);
    const n = base.calls().length;
    const cuts: Record<string, string>[] = [
      ...Array.from({ length: n }, (_, i) => ({ FAKE_CUT: String(i + 1) })),
      ...['certs', 'kubeconfig', 'etcd', 'control-plane', 'kubelet-start', 'upload-config', 'bootstrap-token'].map((p) => ({ FAKE_KUBEADM_CUT_AFTER: p })),
    ];
    for (const cut of cuts) {
      const world = c.again();
      const rig = world.node('cp01');
      for (const s of ['packages', 'api-vip']) assert.equal(rig.stage(s, world.env('cp01')).status, 0);
      rig.clearCalls();
      const first = rig.stage('kubeadm-init', world.env('cp01', cut));
      assert.ok(first.cut, `${JSON.stringify(cut)} cut the power`);
      const second = rig.stage('kubeadm-init', world.env('cp01'));
      assert.equal(second.status, 0, `${JSON.stringify(cut)}: ${JSON.stringify(last(rig, 'kubeadm-init'))}`);
      assert.equal(inits(rig), 1, `${JSON.stringify(cut)}: kubeadm init made the cluster ${inits(rig)} times`);
      assert.ok(!existsSync(rig.path('.fake/init-over-existing')), `${JSON.stringify(cut)}: kubeadm init ran over an existing admin.conf`);
      assert.ok(existsSync(join(world.world, 'cm-kubeadm-config')) && existsSync(join(world.world, 'cm-cluster-info')), JSON.stringify(cut));
      // Once init has written admin.conf, the rest is done phase by phase, never by init.
      const after = cut['FAKE_KUBEADM_CUT_AFTER'];
      if (after && after !== 'certs') assert.ok(rig.calls('kubeadm').some((x) => x[2] === 'phase'), `${after}: resumed by phases`);
    }
  });

  test('the bootstrap token is deleted once every node of the config has joined (a control plane: marked by kubeadm), not before', async () => {
    const c = await ClusterRigs.of(HOMELAB);
    const cp01 = initLeader(c);
    const early = cp01.stage('token-cleanup', c.env('cp01', { IMGFORGE_WAIT_OTHERS: '30' }));
    assert.equal(early.status, 1);
    assert.match(last(cp01, 'token-cleanup').msg!, /not yet: cp02 worker01 worker02 worker03 worker04 $/);
    assert.deepEqual(cp01.calls('kubeadm').filter((x) => x[1] === 'token'), []);
    writeFileSync(join(c.world, 'nodes'), c.cluster.nodes.map((n) => `${n.config.hostname}\n`).join(''));
    // Every Node registered, but cp02's join is not finished (kubeadm has not marked it): a power
    // cut now must leave it the token to join again with.
    assert.equal(cp01.stage('token-cleanup', c.env('cp01', { IMGFORGE_WAIT_OTHERS: '30' })).status, 1);
    assert.match(last(cp01, 'token-cleanup').msg!, /not yet: cp02 $/);
    assert.deepEqual(cp01.calls('kubeadm').filter((x) => x[1] === 'token'), []);
    appendFileSync(join(c.world, 'control-planes'), 'cp02\n');
    assert.equal(cp01.stage('token-cleanup', c.env('cp01')).status, 0);
    assert.deepEqual(cp01.calls('kubeadm').filter((x) => x[1] === 'token').map((x) => x.slice(1, 4)), [['token', 'delete', c.secrets.token.id]]);
    cp01.clearEvents();
    assert.equal(cp01.stage('token-cleanup', c.env('cp01')).status, 0);
    assert.equal(last(cp01, 'token-cleanup').changed, false);
  });

  test('etcd data without admin.conf: init is refused, not retried', async () => {
    const c = await ClusterRigs.of(HOMELAB);
    const rig = c.node('cp01');
    rig.write('var/lib/etcd/member/wal/0.wal', 'x');
    assert.equal(rig.stage('kubeadm-init', c.env('cp01')).status, 1);
    assert.match(last(rig, 'kubeadm-init').msg!, /\/var\/lib\/etcd holds data but there is no admin.conf/);
    assert.equal(inits(rig), 0);
  });
});

describe('joins', () => {
  test('a worker waits for the API within its deadline, then joins through the endpoint; it holds no key of any CA', async () => {
    const c = await ClusterRigs.of(HOMELAB);
    const w = c.node('worker02');
    assert.equal(w.stage('packages', c.env('worker02')).status, 0);
    const early = w.stage('kubeadm-join', c.env('worker02', { IMGFORGE_WAIT_OTHERS: '40' }));
    assert.equal(early.status, 1);
    assert.match(last(w, 'kubeadm-join').msg!, /gave up waiting for the API at k8s\.home\.arpa:6443/);
    assert.ok(w.events().some((e) => e.stage === 'kubeadm-join' && e.state === 'retry'), 'the wait is retried by the stage policy');
    assert.deepEqual(w.calls('kubeadm').filter((x) => x[1] === 'join'), []);
    initLeader(c);
    assert.equal(w.stage('kubeadm-join', c.env('worker02')).status, 0);
    assert.equal(w.calls('kubeadm').filter((x) => x[1] === 'join').length, 1);
    assert.ok(w.calls('curl').some((x) => x.includes('-sfk') && x.at(-1) === 'https://k8s.home.arpa:6443/readyz'));
    assert.deepEqual(keysUnder(w, 'etc/kubernetes'), []);
    assert.match(w.read('etc/imgforge/secrets/kubeadm.yaml'), /caCertHashes:\n\s+- sha256:[0-9a-f]{64}/);
  });

  test('control planes join one at a time: each waits until the one before it is a healthy etcd voter', async () => {
    const c = await ClusterRigs.of(join(ROOT, 'test/fixtures/minimal.config.mjs'), { secrets: 'new' });
    const n3 = c.node('n3');
    assert.deepEqual(c.doc('n3').assembly!.after, { hostname: 'n2', address: '192.168.50.12' });
    assert.equal(c.doc('n2').assembly!.after, null, 'the first to join waits for the leader\'s API alone');
    initLeader(c, 'n1');
    const n2 = c.node('n2');
    assert.equal(n3.stage('packages', c.env('n3')).status, 0);
    const early = n3.stage('kubeadm-join', c.env('n3', { IMGFORGE_WAIT_OTHERS: '30' }));
    assert.equal(early.status, 1);
    assert.match(last(n3, 'kubeadm-join').msg!, /gave up waiting for n2 to be a healthy etcd voter/);
    assert.deepEqual(n3.calls('kubeadm').filter((x) => x[1] === 'join'), []);
    for (const s of ['packages', 'kubeadm-join', 'api-vip']) assert.equal(n2.stage(s, c.env('n2')).status, 0, s);
    assert.equal(n3.stage('kubeadm-join', c.env('n3')).status, 0, JSON.stringify(last(n3, 'kubeadm-join')));
    const etcd = n3.calls('etcdctl');
    assert.ok(etcd.length > 0 && etcd.every((x) => x.includes('--endpoints=https://192.168.50.12:2379')), 'asks n2\'s member');
    // The CA pin and the CA file: a control plane checks the API's certificate against its CA.
    assert.ok(n3.calls('curl').some((x) => x.includes('--cacert')));
    const members = readFileSync(join(c.world, 'etcd-members'), 'utf8');
    assert.equal(members.trim().split('\n').length, 3);
  });

  test('an API whose certificate does not chain to the cluster CA is not joined by a control plane', async () => {
    const c = await ClusterRigs.of(HOMELAB);
    initLeader(c);
    writeFileSync(join(c.world, 'api-other-ca'), '');
    const cp02 = c.node('cp02');
    assert.equal(cp02.stage('packages', c.env('cp02')).status, 0);
    assert.equal(cp02.stage('kubeadm-join', c.env('cp02', { IMGFORGE_WAIT_OTHERS: '20' })).status, 1);
    assert.deepEqual(cp02.calls('kubeadm').filter((x) => x[1] === 'join'), []);
  });

  test('a join cut half way is reset and made again, keeping the pre-seeded keys with their modes', async () => {
    const c = await ClusterRigs.of(HOMELAB);
    initLeader(c);
    const cp02 = c.node('cp02');
    assert.equal(cp02.stage('packages', c.env('cp02')).status, 0);
    const key = readFileSync(cp02.path('etc/kubernetes/pki/ca.key'), 'utf8');
    assert.ok(cp02.stage('kubeadm-join', c.env('cp02', { FAKE_KUBEADM_CUT_AFTER: 'kubelet-start' })).cut);
    assert.equal(cp02.stage('kubeadm-join', c.env('cp02')).status, 0);
    assert.deepEqual(cp02.calls('kubeadm').filter((x) => x[1] !== 'config').map((x) => x[1]), ['join', 'reset', 'join']);
    assert.equal(readFileSync(cp02.path('etc/kubernetes/pki/ca.key'), 'utf8'), key);
    assert.equal(statSync(cp02.path('etc/kubernetes/pki/ca.key')).mode & 0o777, 0o600);
    assert.equal(statSync(cp02.path('etc/kubernetes/pki/ca.crt')).mode & 0o777, 0o644);
  });
});

describe('the API VIP', () => {
  test('with HAProxy: the control plane that joined balances the endpoint\'s port over every API server, and keepalived checks that port', async () => {
    const c = await ClusterRigs.of(join(ROOT, 'examples/k8scp-haproxy-calico.config.ts'));
    const [leader, second] = c.cluster.nodes.filter((n) => n.config.role === 'control-plane').map((n) => n.config.hostname);
    const l = c.node(leader!);
    for (const s of ['packages', 'api-vip', 'kubeadm-init']) assert.equal(l.stage(s, c.env(leader!)).status, 0, s);
    const cp = c.node(second!);
    for (const s of ['packages', 'kubeadm-join', 'api-vip']) assert.equal(cp.stage(s, c.env(second!)).status, 0, `${s}: ${JSON.stringify(last(cp, s))}`);
    const port = c.cluster.config.cluster.controlPlaneEndpoint.port;
    assert.equal(port, 8443);
    const cfg = cp.read('etc/haproxy/haproxy.cfg');
    assert.match(cfg, new RegExp(`bind \\*:${port}\n`));
    const servers = c.cluster.nodes.filter((n) => n.config.role === 'control-plane').map((n) => `server ${n.config.hostname} ${n.config.address.split('/')[0]}:6443 check verify none`);
    for (const srv of servers) assert.ok(cfg.includes(srv), srv);
    assert.match(cp.read('etc/keepalived/keepalived.conf'), new RegExp(`check-apiserver ${port}"`));
    const starts = cp.calls('systemctl').filter((x) => x.includes('--now')).map((x) => x.at(-1));
    assert.ok(starts.indexOf('haproxy') >= 0 && starts.indexOf('haproxy') < starts.indexOf('keepalived'), starts.join(' '));
    assert.ok(Number(/priority (\d+)/.exec(cp.read('etc/keepalived/keepalived.conf'))![1]) < 200, 'below the leader');
  });
});

describe('kube-vip', () => {
  test('the leader\'s static pod reads super-admin.conf until init, admin.conf after; a joining control plane\'s reads admin.conf', async () => {
    const c = await ClusterRigs.of(join(ROOT, 'examples/metallb-bgp-longhorn.config.ts'));
    const [leader, second] = c.cluster.nodes.filter((n) => n.config.role === 'control-plane').map((n) => n.config.hostname);
    const l = c.node(leader!);
    for (const s of ['packages', 'api-vip']) assert.equal(l.stage(s, c.env(leader!)).status, 0, s);
    const before = l.read('etc/kubernetes/manifests/kube-vip.yaml');
    assert.match(before, /path: \/etc\/kubernetes\/super-admin\.conf/);
    assert.match(before, /image: ghcr\.io\/kube-vip\/kube-vip:v1\.0\.3\n/);
    assert.match(before, new RegExp(`value: "${c.cluster.config.cluster.controlPlaneEndpoint.vip}"`));
    assert.match(before, /name: vip_interface, value: "lan0"/);
    assert.deepEqual(l.calls('systemctl').filter((x) => x.includes('keepalived')), [], 'no keepalived with kube-vip');
    assert.equal(l.stage('kubeadm-init', c.env(leader!)).status, 0);
    assert.equal(l.read('etc/kubernetes/manifests/kube-vip.yaml'), before.replace('/etc/kubernetes/super-admin.conf', '/etc/kubernetes/admin.conf'));
    l.clearEvents();
    assert.equal(l.stage('api-vip', c.env(leader!)).status, 0);
    assert.equal(l.events().at(-1)!.changed, false, 'after init the manifest with admin.conf is imgforge\'s');
    const cp = c.node(second!);
    for (const s of ['packages', 'kubeadm-join', 'api-vip']) assert.equal(cp.stage(s, c.env(second!)).status, 0, s);
    assert.match(cp.read('etc/kubernetes/manifests/kube-vip.yaml'), /path: \/etc\/kubernetes\/admin\.conf/);
  });
});

describe('the etcd member on a worker', () => {
  test('joins as a learner with the certificates imgforge issued, starts, and is promoted; a cut after member add converges without a second add', async () => {
    for (const cut of [undefined, 'after-add']) {
      const c = await ClusterRigs.of(HOMELAB);
      initLeader(c);
      const cp02 = c.node('cp02');
      for (const s of ['packages', 'kubeadm-join']) assert.equal(cp02.stage(s, c.env('cp02')).status, 0);
      const w = c.node('worker01');
      for (const s of ['packages', 'kubeadm-join']) assert.equal(w.stage(s, c.env('worker01')).status, 0);
      assert.deepEqual(keysUnder(w, 'etc/kubernetes/pki').sort(), ['etcd/healthcheck-client.key', 'etcd/peer.key', 'etcd/server.key']);
      if (cut) {
        w.clearCalls();
        assert.equal(w.stage('etcd-member', c.env('worker01')).status, 0);
        const add = w.calls().findIndex((x) => x[0] === 'etcdctl' && x.includes('add'));
        // Start over from a machine cut right after member add.
        rmSync(w.path('etc/kubernetes/manifests/etcd.yaml'));
        rmSync(w.path('var/lib/imgforge/etcd-initial-cluster'));
        writeFileSync(join(c.world, 'etcd-members'), readFileSync(join(c.world, 'etcd-members'), 'utf8').replace(/, started, worker01, (.*), false$/m, ', unstarted, , $1, true'));
        assert.ok(add > 0);
      }
      w.clearCalls();
      assert.equal(w.stage('etcd-member', c.env('worker01')).status, 0, JSON.stringify(last(w, 'etcd-member')));
      const adds = w.calls('etcdctl').filter((x) => x.includes('add'));
      assert.equal(adds.length, cut ? 0 : 1);
      if (!cut) assert.ok(adds[0]!.includes('--learner') && adds[0]!.includes('--peer-urls=https://192.168.1.21:2380'));
      assert.ok(w.calls('etcdctl').some((x) => x.includes('promote')));
      const manifest = w.read('etc/kubernetes/manifests/etcd.yaml');
      assert.match(manifest, /--initial-cluster=cp01=https:\/\/192\.168\.1\.11:2380,cp02=https:\/\/192\.168\.1\.12:2380,worker01=https:\/\/192\.168\.1\.21:2380\n/);
      assert.match(manifest, /--initial-cluster-state=existing/);
      assert.match(manifest, /image: registry\.k8s\.io\/etcd:3\.6\.6-0/);
      assert.match(readFileSync(join(c.world, 'etcd-members'), 'utf8'), /, started, worker01, https:\/\/192\.168\.1\.21:2380, https:\/\/192\.168\.1\.21:2379, false$/m);
      assert.ok(!existsSync(w.path('etc/kubernetes/pki/etcd/ca.key')));
    }
  });
});
