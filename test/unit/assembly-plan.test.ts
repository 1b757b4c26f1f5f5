// The assembly part of the plan: which stages each node gets by its role, whom it waits for, the
// VIP priorities, the packages and mirrors, and what a node booted alone passes over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadCluster } from '../../src/config/index.ts';
import type { Cluster } from '../../src/config/resolve.ts';
import { kubeadmDocuments } from '../../src/kubeadm/documents.ts';
import { nodeStages } from '../../src/plan/index.ts';
import { loadPackageSources } from '../../src/plan/packages.ts';
import { qemuArgs } from '../../src/plan/vm.ts';
import { loadSecrets } from '../../src/secrets/store.ts';
import { ROOT } from '../helpers.ts';
import { Rig } from '../runtime/rig.ts';
import { VM1_DOC } from '../runtime/machine.ts';

const packages = await loadPackageSources();
const homelab = await loadCluster(join(ROOT, 'images.config.ts'));
const stagesOf = (cluster: Cluster, host: string) => nodeStages(cluster, cluster.nodes.find((n) => n.config.hostname === host)!, packages);
const names = (cluster: Cluster, host: string) => stagesOf(cluster, host).stages.map((s) => s.name);
const withCluster = (cluster: Cluster, patch: (c: any) => void): Cluster => {
  const config = structuredClone(cluster.config);
  patch(config.cluster);
  return { ...cluster, config };
};

test('each role gets its stages: the leader holds the VIP before init, the other control planes after they joined, the etcd worker adds its member', () => {
  assert.deepEqual(names(homelab, 'cp01'), ['layout', 'prepare', 'packages', 'api-vip', 'kubeadm-init', 'cni', 'token-cleanup', 'complete']);
  assert.deepEqual(names(homelab, 'cp02'), ['layout', 'prepare', 'packages', 'kubeadm-join', 'api-vip', 'complete']);
  assert.deepEqual(names(homelab, 'worker01'), ['layout', 'prepare', 'packages', 'kubeadm-join', 'etcd-member', 'complete']);
  assert.deepEqual(names(homelab, 'worker02'), ['layout', 'prepare', 'packages', 'kubeadm-join', 'complete']);
  const init = stagesOf(homelab, 'cp01').stages.find((s) => s.name === 'kubeadm-init')!;
  assert.deepEqual(init.requires, ['packages', 'api-vip']);
  const pk = stagesOf(homelab, 'cp01').stages.find((s) => s.name === 'packages')!;
  assert.deepEqual(pk.after, ['network-online.target']);
  assert.equal(stagesOf(homelab, 'cp01').stages.filter((s) => s.assembly).length, 5);
  assert.deepEqual(stagesOf(homelab, 'cp01').stages.find((s) => s.name === 'cni')!.requires, ['kubeadm-init']);
  assert.equal(stagesOf(homelab, 'cp01').stages.find((s) => s.name === 'prepare')!.assembly, undefined);
});

test('selfAssembly false: no assembly stages and no assembly in node.json; an external etcd node runs etcd and no kubeadm', async () => {
  const off = withCluster(homelab, (c) => { c.selfAssembly = false; });
  assert.deepEqual(names(off, 'cp01'), ['layout', 'prepare', 'complete']);
  assert.equal(stagesOf(off, 'cp01').assembly, null);
  const ext = await loadCluster(join(ROOT, 'examples/external-etcd.config.ts'));
  const etcdNode = ext.nodes.find((n) => n.config.role === 'etcd')!;
  assert.equal(nodeStages(ext, etcdNode, packages).assembly!.part, 'etcd');
  assert.deepEqual(nodeStages(ext, etcdNode, packages).stages.map((s) => s.name), ['layout', 'prepare', 'etcd-external', 'complete']);
  assert.deepEqual(kubeadmDocuments(ext, etcdNode, (await loadSecrets(ext))!), []);
});

test('VRRP priorities: the leader\'s is the highest; the others descend in config order; workers have no VIP', () => {
  const p = (h: string) => stagesOf(homelab, h).assembly!.vip?.priority;
  assert.equal(p('cp01'), 200);
  assert.ok(p('cp02')! < 200 && p('cp02')! > 100);
  assert.equal(p('worker02'), undefined);
  const named = withCluster(homelab, (c) => { c.leader = 'cp02'; });
  assert.equal(nodeStages(named, named.nodes[1]!, packages).assembly!.vip!.priority, 200);
  assert.equal(nodeStages(named, named.nodes[1]!, packages).assembly!.part, 'init');
  assert.equal(nodeStages(named, named.nodes[0]!, packages).assembly!.part, 'control-plane');
});

test('mirrors replace every download location; the pinned fingerprints stay', () => {
  const m = withCluster(homelab, (c) => { c.mirrors = { kubernetes: 'http://mirror.lan/k8s/', containerd: 'http://mirror.lan/docker', images: 'registry.lan:5000/k8s' }; });
  const a = stagesOf(m, 'cp01').assembly!;
  assert.equal(a.packages!.kubernetes.url, 'http://mirror.lan/k8s/core:/stable:/v1.35/deb/');
  assert.equal(a.packages!.kubernetes.key, 'http://mirror.lan/k8s/core:/stable:/v1.35/deb/Release.key');
  assert.equal(a.packages!.kubernetes.fingerprint, packages.kubernetes.fingerprint);
  assert.deepEqual(a.packages!.containerd.repo, { url: 'http://mirror.lan/docker', suite: '{codename}', component: 'stable', key: 'http://mirror.lan/docker/gpg', fingerprint: packages.containerd.fingerprint });
  assert.equal(a.imageRepository, 'registry.lan:5000/k8s');
  const plain = stagesOf(homelab, 'cp01').assembly!;
  assert.equal(plain.packages!.kubernetes.url, 'https://pkgs.k8s.io/core:/stable:/v1.35/deb/');
  assert.equal(plain.imageRepository, '');
});

test('a node booted alone (imgforge test) is told imgforge.assembly=off and passes over exactly its assembly stages', () => {
  const args = qemuArgs({ arch: 'amd64', firmware: 'uefi', disk: 'd', code: 'c', vars: 'v', kvm: false, memoryMiB: 1024, cpus: 1, mac: null, qmp: 'q', events: 'e' });
  assert.ok(args.join(' ').includes('-smbios type=11,value=imgforge.assembly=off'));
  assert.ok(!qemuArgs({ arch: 'amd64', firmware: 'uefi', disk: 'd', code: 'c', vars: 'v', kvm: false, memoryMiB: 1024, cpus: 1, mac: null, qmp: 'q', events: 'e', assemble: true })
    .join(' ').includes('imgforge.assembly=off'));
  const rig = new Rig();
  rig.installNode(VM1_DOC);
  rig.write('sys/firmware/dmi/tables/DMI', '\u0000\u000bimgforge.report=1\u0000imgforge.assembly=off\u0000');
  assert.equal(rig.stage('packages').status, 0);
  assert.deepEqual(rig.events().map((e) => [e.stage, e.state, e.changed]), [['packages', 'begin', undefined], ['packages', 'ok', false]]);
  assert.match(rig.events().at(-1)!.msg!, /passed over/);
  assert.deepEqual(rig.calls().filter((c) => c[0] !== 'logger'), []);
  // A stage that prepares the node still runs.
  rig.clearEvents();
  rig.stage('prepare');
  assert.doesNotMatch(rig.events().at(-1)!.msg ?? '', /passed over/);
});

test('plan says which add-ons the nodes install (the Gateway API CRDs) and which are checked but installed by hand', async () => {
  const { cli } = await import('../helpers.ts');
  const r = await cli(['--config', join(ROOT, 'images.config.ts'), 'plan', 'cp01', '--json']);
  assert.deepEqual(JSON.parse(r.stdout).addons, [{ name: 'gatewayApi', installedByNodes: true }, { name: 'rookCeph', installedByNodes: false }]);
  const text = await cli(['--config', join(ROOT, 'images.config.ts'), 'plan', 'cp01']);
  assert.match(text.stdout, /^add-ons checked but not installed by the nodes yet \(install them once the cluster is up\): rookCeph$/m);
});
