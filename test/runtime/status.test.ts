// imgforge-status on a node: its stages in this boot, the cluster as it sees it, the last error;
// from the events the stages wrote and from the API and etcd (recording stand-ins).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';
import { ClusterRigs } from './cluster-rig.ts';

const STATUS = join(ROOT, 'runtime/usr/local/bin/imgforge-status');

test('the leader after init: its stages with their outcome and time, the API, the nodes not yet joined, etcd\'s voters', async () => {
  const c = await ClusterRigs.of(join(ROOT, 'images.config.ts'));
  const cp01 = c.node('cp01');
  for (const s of ['packages', 'api-vip', 'kubeadm-init']) assert.equal(cp01.stage(s, c.env('cp01')).status, 0);
  const r = cp01.run(['python3', STATUS, '--json'], c.env('cp01'));
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.part, 'init');
  assert.deepEqual(s.stages.map((x: { name: string; state: string }) => [x.name, x.state]),
    [['layout', 'waiting'], ['prepare', 'waiting'], ['packages', 'ok'], ['api-vip', 'ok'], ['kubeadm-init', 'ok'], ['cni', 'waiting'], ['token-cleanup', 'waiting'], ['complete', 'waiting']]);
  assert.ok(s.stages[2].seconds >= 180, 'packages waited for the clock (fake time)');
  assert.deepEqual(s.clusterView.nodes, { joined: ['cp01'], ready: ['cp01'], missing: ['cp02', 'worker01', 'worker02', 'worker03', 'worker04'] });
  assert.deepEqual(s.clusterView.etcd, { members: 1, voters: 1 });
  assert.equal(s.clusterView.apiReady, true);
  assert.equal(s.lastError, null);
  const t = cp01.run(['python3', STATUS], c.env('cp01'));
  assert.match(t.stdout, /^cp01: the leader of homelab \(Kubernetes 1\.35\.3\)\n/);
  assert.match(t.stdout, /\n {2}kubeadm-init +ok +[0-9.]+ s {2}the cluster was initialised here\n/);
  assert.match(t.stdout, /\n {2}API at k8s\.home\.arpa:6443: answers \/readyz\n {2}nodes: 1 joined, 1 ready; not yet joined: cp02 worker01 worker02 worker03 worker04\n {2}etcd: 1 members, 1 voters\nlast error: none\n$/);
});

test('a worker whose join failed: exit 1, the stage failed with its reason, the API does not answer, the last error named', async () => {
  const c = await ClusterRigs.of(join(ROOT, 'images.config.ts'));
  const w = c.node('worker02');
  assert.equal(w.stage('packages', c.env('worker02')).status, 0);
  assert.equal(w.stage('kubeadm-join', c.env('worker02', { IMGFORGE_WAIT_OTHERS: '20' })).status, 1);
  const r = w.run(['python3', STATUS, '--json'], c.env('worker02'));
  assert.equal(r.status, 1);
  const s = JSON.parse(r.stdout);
  const join_ = s.stages.find((x: { name: string }) => x.name === 'kubeadm-join');
  assert.equal(join_.state, 'failed');
  assert.equal(join_.attempt, 3);
  assert.match(join_.msg, /gave up waiting for the API/);
  assert.equal(s.clusterView.apiReady, false);
  assert.equal(s.clusterView.nodes, null, 'a worker has no admin.conf to list nodes with');
  assert.equal(s.lastError.stage, 'kubeadm-join');
  assert.match(w.run(['python3', STATUS], c.env('worker02')).stdout, /\nlast error: kubeadm-join at [0-9T:-]+Z: gave up waiting for the API at k8s\.home\.arpa:6443\n$/);
});
