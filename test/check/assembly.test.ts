// Check rules for what self-assembly cannot do: each with a config that fails and one that passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { obj, worker, type Obj } from '../fixtures/lab-config.ts';
import { findings } from './check-helper.ts';

test('leader-not-control-plane: cluster.leader must name a control plane; naming one passes', async () => {
  const bad = await findings((c) => { (c['nodes'] as Obj[]).push(worker(1)); obj(c['cluster'])['leader'] = 'w01'; });
  assert.equal(bad.code, 1);
  assert.deepEqual(bad.findings.map((f) => f.id), ['leader-not-control-plane']);
  assert.equal(bad.findings[0]!.message, 'cluster.leader names w01, a node of role "worker": only a control plane can run kubeadm init.');
  assert.deepEqual(bad.findings[0]!.paths, ['cluster.leader']);
  const missing = await findings((c) => { obj(c['cluster'])['leader'] = 'cp09'; });
  assert.equal(missing.findings[0]!.message, 'cluster.leader names cp09, which is not a node of this config.');
  const good = await findings((c) => { obj(c['cluster'])['leader'] = 'cp02'; });
  assert.deepEqual(good, { code: 0, findings: [] });
});

test('gateway-api-version: a Gateway API release without a pinned digest is refused; a pinned one passes', async () => {
  const bad = await findings((c) => { obj(obj(c['cluster'])['cni'])['kubeProxyReplacement'] = true; obj(c['cluster'])['addons'] = { gatewayApi: { version: '1.2.9' } }; });
  assert.equal(bad.code, 1);
  assert.deepEqual(bad.findings.map((f) => f.id), ['gateway-api-version']);
  assert.match(bad.findings[0]!.hint!, /1\.3\.0/);
  const good = await findings((c) => { obj(obj(c['cluster'])['cni'])['kubeProxyReplacement'] = true; obj(c['cluster'])['addons'] = { gatewayApi: { version: '1.3.0' } }; });
  assert.deepEqual(good, { code: 0, findings: [] });
  const off = await findings((c) => { obj(obj(c['cluster'])['cni'])['kubeProxyReplacement'] = true; obj(c['cluster'])['addons'] = { gatewayApi: { version: '1.2.9' } }; obj(c['cluster'])['selfAssembly'] = false; });
  assert.deepEqual(off, { code: 0, findings: [] }, 'nodes that do not assemble download nothing');
});

test('cni-version-required: Calico without a version is refused; with one it passes', async () => {
  const bad = await findings((c) => { obj(c['cluster'])['cni'] = { plugin: 'calico' }; });
  assert.deepEqual(bad.findings.map((f) => f.id), ['cni-version-required']);
  assert.deepEqual(bad.findings[0]!.paths, ['cluster.cni.version']);
  const good = await findings((c) => { obj(c['cluster'])['cni'] = { plugin: 'calico', version: '3.32.1' }; });
  assert.deepEqual(good, { code: 0, findings: [] });
});

test('vip-port: kube-vip or keepalived alone on a port other than the API server\'s is refused; on 6443, or keepalived+haproxy on 8443, passes', async () => {
  const bad = await findings((c) => { obj(c['cluster'])['controlPlaneEndpoint'] = { vip: '192.168.1.10', port: 8443, provider: 'kube-vip' }; });
  assert.deepEqual(bad.findings.map((f) => f.id), ['vip-port']);
  assert.match(bad.findings[0]!.message, /^kube-vip holds the VIP for the API servers' own port, 6443; nothing answers on 8443 there\.$/);
  const keepalived = await findings((c) => { obj(c['cluster'])['controlPlaneEndpoint'] = { vip: '192.168.1.10', port: 8443, provider: 'keepalived' }; });
  assert.deepEqual(keepalived.findings.map((f) => f.id), ['vip-port']);
  for (const ep of [{ port: 6443, provider: 'kube-vip' }, { port: 8443, provider: 'keepalived+haproxy' }]) {
    const good = await findings((c) => { obj(c['cluster'])['controlPlaneEndpoint'] = { vip: '192.168.1.10', ...ep }; });
    assert.deepEqual(good, { code: 0, findings: [] });
  }
});

test('runtime-unsupported: CRI-O with self-assembly is refused; containerd, or CRI-O without self-assembly, passes', async () => {
  const bad = await findings((c) => { obj(c['cluster'])['runtime'] = { name: 'cri-o', version: '1.35' }; });
  assert.deepEqual(bad.findings.map((f) => f.id), ['runtime-unsupported']);
  assert.deepEqual(bad.findings[0]!.paths, ['cluster.runtime.name']);
  const off = await findings((c) => { obj(c['cluster'])['runtime'] = { name: 'cri-o', version: '1.35' }; obj(c['cluster'])['selfAssembly'] = false; });
  assert.deepEqual(off, { code: 0, findings: [] });
});
