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
async function leader(config: string, tool: Buffer, gateway: string, patch: (doc: NodeDoc) => void = () => undefined) {
  const c = await ClusterRigs.of(join(ROOT, config));
  const host = c.cluster.nodes.find((n) => n.config.role === 'control-plane')!.config.hostname;
  const a = c.doc(host).assembly!;
  c.serve(a.cni!.tool.url, tool);
  if (a.cni!.gatewayApi) c.serve(a.cni!.gatewayApi.url, gateway);
  const rig = c.node(host, (doc: NodeDoc) => {
    doc.assembly!.cni!.tool.sha256 = sha(tool);
    if (doc.assembly!.cni!.gatewayApi) doc.assembly!.cni!.gatewayApi.sha256 = sha(gateway);
    patch(doc);
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

const RELEASE = 'https://github.com/projectcalico/calico/releases/download/v3.32.1/tigera-operator-v3.32.1.tgz';
/** Tigera's index as it is published: each archive named by its GitHub release URL, with its digest. */
const index = (chart: Buffer, url = RELEASE) => `apiVersion: v1\nentries:\n  tigera-operator:\n  - apiVersion: v2\n    digest: ${sha(chart)}\n    name: tigera-operator\n    urls:\n    - ${url}\n    version: v3.32.1\n  - digest: ${'0'.repeat(64)}\n    name: tigera-operator\n    urls:\n    - https://github.com/projectcalico/calico/releases/download/v3.31.0/tigera-operator-v3.31.0.tgz\n    version: v3.31.0\n`;
const CHART = archive('tigera-operator/Chart.yaml');

test('Calico: the operator chart at the config\'s version, by the index\'s URL and digest, installed by Helm from the checked file with the pod CIDR', async () => {
  const { c, rig, host, a } = await leader('examples/k8scp-haproxy-calico.config.ts', archive('linux-amd64/helm'), GATEWAY);
  assert.equal(a.cni!.repository, 'https://docs.tigera.io/calico/charts');
  c.serve(`${a.cni!.repository}/index.yaml`, index(CHART));
  c.serve(RELEASE, CHART);
  assert.equal(rig.stage('cni', c.env(host)).status, 0, JSON.stringify(rig.events().at(-1)));
  const helm = rig.calls('helm')[0]!;
  const pod = c.cluster.config.cluster.podCidr;
  for (const arg of ['upgrade', '--install', 'calico', `installation.calicoNetwork.ipPools[0].cidr=${pod}`]) assert.ok(helm.includes(arg), `${arg} in ${helm.join(' ')}`);
  assert.ok(!helm.includes('--repo'), 'helm fetches nothing itself');
  const chart = helm.find((x) => x.endsWith('.tgz'))!;
  assert.deepEqual(readFileSync(chart), CHART, 'helm installs the archive the stage checked');
  assert.ok(existsSync(rig.path('usr/local/bin/helm')));
});

test('Calico behind a downloads mirror: the index\'s absolute GitHub URL is fetched through the mirror; an archive that is not the index\'s is refused', async () => {
  const mirror = 'http://mirror.lan/downloads';
  const { c, rig, host } = await leader('examples/k8scp-haproxy-calico.config.ts', archive('linux-amd64/helm'), GATEWAY, (doc) => {
    doc.assembly!.cni!.downloadsMirror = mirror;
    doc.assembly!.cni!.repository = `${mirror}/docs.tigera.io/calico/charts/`;
  });
  const archiveAt = `${mirror}/github.com/projectcalico/calico/releases/download/v3.32.1/tigera-operator-v3.32.1.tgz`;
  c.serve(`${mirror}/docs.tigera.io/calico/charts/index.yaml`, index(CHART));
  // Only the mirror has it (an air-gapped site): the upstream URL is not served. First, not the index's bytes.
  c.serve(archiveAt, Buffer.concat([CHART, Buffer.from('x')]));
  assert.equal(rig.stage('cni', c.env(host)).status, 1);
  assert.match(rig.events().at(-1)!.msg!, /tigera-operator-v3\.32\.1\.tgz has SHA-256 [0-9a-f]{64}, not the pinned/);
  assert.deepEqual(rig.calls('helm'), [], 'nothing installed');
  c.serve(archiveAt, CHART);
  rig.clearCalls();
  assert.equal(rig.stage('cni', c.env(host)).status, 0, JSON.stringify(rig.events().at(-1)));
  const fetched = rig.calls('curl').map((x) => x.at(-1)!);
  assert.ok(fetched.includes(archiveAt), fetched.join('\n'));
  assert.ok(!fetched.some((u) => u.startsWith('https://')), `nothing past the mirror: ${fetched.join(' ')}`);
  assert.equal(rig.calls('helm').length, 1);
});

test('Calico: an index without the config\'s version is a failure that names it, not retried', async () => {
  const { c, rig, host, a } = await leader('examples/k8scp-haproxy-calico.config.ts', archive('linux-amd64/helm'), GATEWAY);
  c.serve(`${a.cni!.repository}/index.yaml`, index(CHART).replaceAll('v3.32.1', 'v3.30.0'));
  assert.equal(rig.stage('cni', c.env(host)).status, 1);
  assert.match(rig.events().at(-1)!.msg!, /no tigera-operator v3\.32\.1 with a digest in https:\/\/docs\.tigera\.io\/calico\/charts\/index\.yaml/);
  assert.deepEqual(rig.events().filter((e) => e.state === 'retry'), []);
  assert.deepEqual(rig.calls('helm'), []);
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
