// The mistakes users make that break a real cluster: each rule with a config that fails, naming
// the field, and one that passes (the lab fixture: three x86 control planes on 192.168.1.0/24).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, etcdNode, obj, worker, type Obj } from '../fixtures/lab-config.ts';
import { findings } from './check-helper.ts';

const cluster = (c: Obj): Obj => obj(c['cluster']);
const nodes = (c: Obj): Obj[] => c['nodes'] as Obj[];
async function fails(mutate: (c: Obj) => void, id: string, message: RegExp, paths?: string[]): Promise<void> {
  const r = await findings(mutate);
  const f = r.findings.filter((x) => x.id === id);
  assert.equal(f.length, 1, `${id}: ${JSON.stringify(r.findings)}`);
  assert.match(f[0]!.message, message);
  if (paths) assert.deepEqual(f[0]!.paths, paths);
}
async function passes(mutate: (c: Obj) => void): Promise<void> {
  assert.deepEqual(await findings(mutate), { code: 0, findings: [] });
}

test('mountpoint-system and mountpoint-duplicate', async () => {
  const ext4 = (name: string, mountpoint: string) => ({ name, size: '10GiB', format: 'ext4', mountpoint });
  await fails((c) => { nodes(c)[0]!['layout'] = { reserved: [ext4('data', '/var/lib')] }; }, 'mountpoint-system', /^cp01: partition "data" would be mounted on \/var\/lib, which the system itself uses\.$/, ['nodes[0].layout.reserved']);
  await fails((c) => { nodes(c)[0]!['layout'] = { reserved: [ext4('boot2', '/boot/efi/')] }; }, 'mountpoint-system', /mounted on \/boot\/efi,/);
  await fails((c) => { nodes(c)[1]!['layout'] = { reserved: [ext4('a', '/data'), ext4('b', '/data')] }; }, 'mountpoint-duplicate', /^cp02: partitions "a" and "b" are both mounted on \/data; the second hides the first\.$/);
  await passes((c) => { nodes(c)[0]!['layout'] = { reserved: [ext4('a', '/srv/a'), ext4('b', '/var/lib/longhorn')] }; });
});

test('address-reserved: a node address or the VIP that is the subnet\'s network or broadcast address', async () => {
  await fails((c) => { nodes(c)[2] = cp(3, { address: '192.168.1.255/24' }); }, 'address-reserved', /^cp03's address 192\.168\.1\.255 is the broadcast address of 192\.168\.1\.0\/24; no host can use it\.$/, ['nodes[2].address']);
  await fails((c) => { obj(cluster(c)['controlPlaneEndpoint'])['vip'] = '192.168.1.0'; }, 'address-reserved', /^The VIP 192\.168\.1\.0 is the network address of 192\.168\.1\.0\/24/, ['cluster.controlPlaneEndpoint.vip']);
  await passes((c) => { nodes(c)[2] = cp(3, { address: '192.168.1.254/24' }); });
});

test('pod-cidr-small and service-cidr-small', async () => {
  await fails((c) => { cluster(c)['podCidr'] = '10.244.0.0/25'; }, 'pod-cidr-small', /^The pod network 10\.244\.0\.0\/25 holds no \/24 per-node ranges; the cluster has 3 nodes\.$/, ['cluster.podCidr']);
  await fails((c) => { cluster(c)['podCidr'] = '10.244.0.0/23'; nodes(c).push(worker(1), worker(2)); }, 'pod-cidr-small', /holds 2 \/24 per-node ranges; the cluster has 5 nodes/);
  await fails((c) => { cluster(c)['serviceCidr'] = '10.96.0.0/29'; }, 'service-cidr-small', /kubeadm gives the API its first address and CoreDNS its tenth/, ['cluster.serviceCidr']);
  await passes((c) => { cluster(c)['podCidr'] = '10.244.0.0/22'; cluster(c)['serviceCidr'] = '10.96.0.0/24'; });
});

test('MetalLB: a pool holding the gateway or a DNS server, an L2 pool off the LAN, two pools of one name', async () => {
  const pools = (...p: Obj[]) => (c: Obj) => { cluster(c)['addons'] = { metallb: { pools: p } }; };
  await fails(pools({ name: 'lan', addresses: ['192.168.1.1-192.168.1.3'] }), 'metallb-pool-taken', /^MetalLB pool "lan" holds the gateway 192\.168\.1\.1: /, ['cluster.addons.metallb.pools[0].addresses', 'network.gateway']);
  await fails((c) => { pools({ name: 'lan', addresses: ['192.168.1.200-192.168.1.210'] })(c); obj(c['network'])['dns'] = ['192.168.1.205']; }, 'metallb-pool-taken', /holds DNS server 192\.168\.1\.205/);
  await fails(pools({ name: 'far', addresses: ['192.168.9.0/28'] }), 'metallb-l2-subnet', /^MetalLB pool "far" is announced by ARP \(l2\) but lies outside every node's subnet/);
  await fails(pools({ name: 'a', addresses: ['192.168.1.200/30'] }, { name: 'a', addresses: ['192.168.1.220/30'] }), 'metallb-pool-duplicate', /^Two MetalLB pools are named "a"/, ['cluster.addons.metallb.pools[1].name']);
  await passes(pools({ name: 'a', addresses: ['192.168.1.200/30'] }, { name: 'b', addresses: ['192.168.1.220-192.168.1.230'] }));
});

test('longhorn-replicas, no-schedulable-node, and etcd on a spinning disk', async () => {
  const lh = { root: { size: '50%' }, reserved: [{ name: 'longhorn', size: 'rest', format: 'ext4', mountpoint: '/var/lib/longhorn' }] };
  await fails((c) => { cluster(c)['addons'] = { longhorn: { replicas: 3 } }; nodes(c)[0]!['layout'] = lh; nodes(c)[1]!['layout'] = lh; }, 'longhorn-replicas', /^Longhorn keeps 3 replicas on different nodes, but only 2 nodes reserve "longhorn"\.$/);
  await passes((c) => { cluster(c)['addons'] = { longhorn: { replicas: 2 } }; nodes(c)[0]!['layout'] = lh; nodes(c)[1]!['layout'] = lh; });
  const r = await findings((c) => { cluster(c)['schedulableControlPlanes'] = false; });
  assert.deepEqual(r.findings.map((f) => [f.id, f.severity]), [['no-schedulable-node', 'warning']]);
  await passes((c) => { cluster(c)['schedulableControlPlanes'] = false; nodes(c).push(worker(1)); });
  const hdd = await findings((c) => { nodes(c)[0] = cp(1, { disk: { media: 'hdd' } }); });
  assert.match(hdd.findings.find((f) => f.id === 'etcd-on-slow-media')!.message, /^cp01 is a control plane on a spinning disk: /);
});

test('user-root and duplicate-user', async () => {
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyForCheckRuleTestsRoot00000000000 r@x';
  await fails((c) => { c['users'] = [{ name: 'root', sshAuthorizedKeys: [key] }]; }, 'user-root', /^A user named root: /, ['users[0].name']);
  await fails((c) => { c['users'] = [{ name: 'ops', sshAuthorizedKeys: [key] }, { name: 'ops', sshAuthorizedKeys: [key] }]; }, 'duplicate-user', /^Two users are named ops/, ['users[1].name']);
  await passes((c) => { c['users'] = [{ name: 'ops', sshAuthorizedKeys: [key] }, { name: 'dev', sshAuthorizedKeys: [key] }]; });
});

test('external etcd with too few etcd nodes: the hint fits the topology', async () => {
  const r = await findings((c) => { cluster(c)['etcd'] = { topology: 'external' }; nodes(c).push(etcdNode(1), etcdNode(2)); });
  const f = r.findings.find((x) => x.id === 'etcd-quorum')!;
  assert.equal(f.hint, 'Add nodes with role "etcd" until there are three (or five): three members survive one failure.');
  assert.doesNotMatch(f.hint!, /etcd: true/);
});
