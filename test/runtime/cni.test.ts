// The leader's cni stage: the Gateway API CRDs first, then Cilium with its CLI or Calico with
// Helm, each download accepted only with its pinned SHA-256; against recording stand-ins.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeDoc } from '../../src/protocol/node-doc.ts';
import { ROOT, tempDir } from '../helpers.ts';
import { ClusterRigs } from './cluster-rig.ts';

/** A release archive holding one program at the path its project uses. */
function archive(path: string): Buffer {
  const dir = tempDir('imgforge-tool-');
  mkdirSync(join(dir, path, '..'), { recursive: true });
  writeFileSync(join(dir, path), '#!/bin/sh\necho tool\n');
  chmodSync(join(dir, path), 0o755);
  assert.equal(spawnSync('tar', ['-czf', join(dir, 'a.tgz'), '-C', dir, path.split('/')[0]!]).status, 0);
  return readFileSync(join(dir, 'a.tgz'));
}
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A leader past kubeadm init, its downloads served with the digests pinned in its node.json. */
async function leader(config: string, tool: Buffer, gateway: string) {
  const c = await ClusterRigs.of(join(ROOT, config));
  const host = c.cluster.nodes.find((n) => n.config.role === 'control-plane')!.config.hostname;
  const a = c.doc(host).assembly!;
  c.serve(a.cni!.tool.url, tool);
  if (a.cni!.gatewayApi) c.serve(a.cni!.gatewayApi.url, gateway);
  const rig = c.node(host, (doc: NodeDoc) => {
    doc.assembly!.cni!.tool.sha256 = sha(tool);
    if (doc.assembly!.cni!.gatewayApi) doc.assembly!.cni!.gatewayApi.sha256 = sha(gateway);
  });
  for (const s of ['packages', 'api-vip', 'kubeadm-init']) assert.equal(rig.stage(s, c.env(host)).status, 0, s);
  rig.clearCalls();
  return { c, rig, host, a };
}

const GATEWAY = 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gateways.gateway.networking.k8s.io\n';

test('Cilium: the Gateway API CRDs are applied and established first, then cilium install replacing kube-proxy, reaching the API at the VIP', async () => {
  const { c, rig, host, a } = await leader('images.config.ts', archive('cilium'), GATEWAY);
  assert.equal(a.cni!.gatewayApi!.sha256, '78796d5c51450fc55d8dc8092ba8137f8c807982d7508d7875d5c537a24082b9', 'Gateway API 1.3.0 standard, as pinned');
  assert.equal(rig.stage('cni', c.env(host)).status, 0, JSON.stringify(rig.events().at(-1)));
  const calls = rig.calls().filter((x) => ['kubectl', 'cilium', 'curl'].includes(x[0]!));
  const apply = calls.findIndex((x) => x[0] === 'kubectl' && x.includes('apply'));
  const install = calls.findIndex((x) => x[0] === 'cilium');
  assert.ok(apply >= 0 && apply < install, calls.map((x) => x.slice(0, 3).join(' ')).join('\n'));
  assert.ok(calls.slice(apply, install).some((x) => x.includes('wait')));
  const cil = calls[install]!;
  for (const arg of ['--version', '1.19.3', 'k8sServiceHost=192.168.1.10', 'k8sServicePort=6443', 'kubeProxyReplacement=true', 'gatewayAPI.enabled=true', 'ipam.operator.clusterPoolIPv4PodCIDRList={10.244.0.0/16}']) {
    assert.ok(cil.includes(arg), `${arg} in ${cil.join(' ')}`);
  }
  assert.equal(readFileSync(rig.path('usr/local/bin/cilium'), 'utf8'), '#!/bin/sh\necho tool\n');
  rig.clearCalls();
  assert.equal(rig.stage('cni', c.env(host)).status, 0);
  assert.deepEqual(rig.calls('cilium'), [], 'already installed: not again');
});

test('Calico: Helm installs the operator chart at the config\'s version with the pod CIDR', async () => {
  const { c, rig, host } = await leader('examples/k8scp-haproxy-calico.config.ts', archive('linux-amd64/helm'), GATEWAY);
  assert.equal(rig.stage('cni', c.env(host)).status, 0, JSON.stringify(rig.events().at(-1)));
  const helm = rig.calls('helm')[0]!;
  const pod = c.cluster.config.cluster.podCidr;
  for (const arg of ['tigera-operator', 'v3.32.1', 'https://docs.tigera.io/calico/charts', `installation.calicoNetwork.ipPools[0].cidr=${pod}`]) assert.ok(helm.includes(arg), `${arg} in ${helm.join(' ')}`);
  assert.ok(existsSync(rig.path('usr/local/bin/helm')));
});

test('a tool whose digest is not the pinned one is refused: nothing installed, not retried', async () => {
  const tool = archive('cilium');
  const { c, rig, host } = await leader('images.config.ts', tool, GATEWAY);
  c.serve(c.doc(host).assembly!.cni!.tool.url, Buffer.concat([tool, Buffer.from('x')]));
  assert.equal(rig.stage('cni', c.env(host)).status, 1);
  assert.match(rig.events().at(-1)!.msg!, /has SHA-256 [0-9a-f]{64}, not the pinned/);
  assert.deepEqual(rig.calls('cilium'), []);
  assert.ok(!existsSync(rig.path('usr/local/bin/cilium')));
  assert.deepEqual(rig.events().filter((e) => e.state === 'retry'), []);
});
