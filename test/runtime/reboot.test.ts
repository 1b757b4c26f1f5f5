// Later boots of nodes that have assembled: a kubelet or an API server not up yet at the moment a
// stage checks never makes the stage join or initialise again; and the leader of an external-etcd
// cluster waits for etcd's quorum before kubeadm init.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { ClusterRigs } from './cluster-rig.ts';
import type { Rig } from './rig.ts';

const HOMELAB = join(ROOT, 'images.config.ts');
const last = (rig: Rig, stage: string) => rig.events().filter((e) => e.stage === stage).at(-1)!;

test('after a reboot with the API and the kubelets not up yet: no join, no reset, no init phase runs again', async () => {
  const c = await ClusterRigs.of(HOMELAB);
  const cp01 = c.node('cp01');
  for (const s of ['packages', 'api-vip', 'kubeadm-init']) assert.equal(cp01.stage(s, c.env('cp01')).status, 0, s);
  const cp02 = c.node('cp02');
  const w = c.node('worker02');
  for (const s of ['packages', 'kubeadm-join']) {
    assert.equal(cp02.stage(s, c.env('cp02')).status, 0, s);
    assert.equal(w.stage(s, c.env('worker02')).status, 0, s);
  }
  // The power comes back: nothing answers yet, no kubelet runs.
  rmSync(join(c.world, 'api-up'));
  for (const rig of [cp01, cp02, w]) {
    rmSync(rig.path('.fake/active-kubelet'), { force: true });
    rmSync(rig.path('.fake/local-api-up'), { force: true });
    rig.clearCalls();
    rig.clearEvents();
  }
  assert.equal(cp01.stage('kubeadm-init', c.env('cp01')).status, 0);
  assert.deepEqual(cp01.calls('kubeadm'), []);
  assert.equal(last(cp01, 'kubeadm-init').changed, false);
  for (const [rig, host] of [[cp02, 'cp02'], [w, 'worker02']] as const) {
    assert.equal(rig.stage('kubeadm-join', c.env(host)).status, 0, host);
    assert.deepEqual(rig.calls('kubeadm'), [], `${host}: no join and no reset`);
    assert.equal(last(rig, 'kubeadm-join').changed, false);
  }
});

test('a node with kubelet.conf that imgforge never joined is not reset: the stage stops and says why', async () => {
  const c = await ClusterRigs.of(HOMELAB);
  const w = c.node('worker02');
  assert.equal(w.stage('packages', c.env('worker02')).status, 0);
  w.write('etc/kubernetes/kubelet.conf', 'joined by hand\n');
  writeFileSync(join(c.world, 'api-up'), '');
  assert.equal(w.stage('kubeadm-join', c.env('worker02')).status, 1);
  assert.match(last(w, 'kubeadm-join').msg!, /kubelet\.conf exists but imgforge never began a join here/);
  assert.deepEqual(w.calls('kubeadm').filter((x) => x[1] === 'reset' || x[1] === 'join'), []);
});

test('external etcd: the leader waits for the etcd cluster\'s quorum before kubeadm init, and the control planes do not wait for each other\'s etcd', async () => {
  const c = await ClusterRigs.of(join(ROOT, 'examples/external-etcd.config.ts'));
  writeFileSync(join(c.world, 'etcd-size'), '3\n');
  const cps = c.cluster.nodes.filter((n) => n.config.role === 'control-plane').map((n) => n.config.hostname);
  for (const h of cps) assert.equal(c.doc(h).assembly!.after, null);
  const leader = c.node(cps[0]!);
  for (const s of ['packages', 'api-vip']) assert.equal(leader.stage(s, c.env(cps[0]!)).status, 0, s);
  assert.equal(leader.stage('kubeadm-init', c.env(cps[0]!, { IMGFORGE_WAIT_OTHERS: '20' })).status, 1);
  assert.match(last(leader, 'kubeadm-init').msg!, /gave up waiting for the external etcd cluster/);
  assert.deepEqual(leader.calls('kubeadm').filter((x) => x[1] === 'init'), []);
  // Two of the three etcd nodes run: a quorum.
  writeFileSync(join(c.world, 'etcd-members'), ['etcd1', 'etcd2'].map((h, i) => `00000000000000a${i}, started, ${h}, https://172.16.5.2${i + 1}:2380, https://172.16.5.2${i + 1}:2379, false\n`).join(''));
  assert.equal(leader.stage('kubeadm-init', c.env(cps[0]!)).status, 0, JSON.stringify(last(leader, 'kubeadm-init')));
  assert.ok(leader.calls('etcdctl').every((x) => x.some((a) => a.endsWith('apiserver-etcd-client.crt'))));
});

test('a node that joined but lost its kubelet.conf is not joined again by itself: the stage stops naming what is gone', async () => {
  const c = await ClusterRigs.of(HOMELAB);
  const cp01 = c.node('cp01');
  for (const s of ['packages', 'api-vip', 'kubeadm-init']) assert.equal(cp01.stage(s, c.env('cp01')).status, 0, s);
  const w = c.node('worker02');
  for (const s of ['packages', 'kubeadm-join']) assert.equal(w.stage(s, c.env('worker02')).status, 0, s);
  rmSync(w.path('etc/kubernetes/kubelet.conf'));
  w.clearCalls();
  assert.equal(w.stage('kubeadm-join', c.env('worker02')).status, 1);
  assert.match(last(w, 'kubeadm-join').msg!, /^kubelet\.conf is missing although this node joined; reset the node by hand/);
  assert.deepEqual(w.calls('kubeadm'), []);
});
