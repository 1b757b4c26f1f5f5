// One test (or more) per topology finding id in src/check/rules/*.ts, through
// `imgforge check --json`. Each asserts the exit code (1 when an error is found, 0 for warnings
// and notes only), the finding's id and severity, the config paths it names, and that no other
// warning or error appears. The date is pinned by test/helpers.ts (SOURCE_DATE_EPOCH, 2026-11-24).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, ROOT, tempDir } from '../helpers.ts';
import { cp, etcdNode, labCluster, obj, worker, type Obj } from '../fixtures/lab-config.ts';


interface Finding {
  id: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
  hint?: string;
  paths: string[];
}
interface Report {
  config: string;
  ok: boolean;
  errors: number;
  warnings: number;
  findings: Finding[];
}

/** A clean cluster: its only finding is the etcd-quorum note (3 members survive 1 failure). */
const BASE: Obj = labCluster('ExampleKeyForFindingTests');

const cluster = (c: Obj): Obj => obj(c['cluster']);
const nodes = (c: Obj): Obj[] => {
  const n = c['nodes'];
  assert.ok(Array.isArray(n));
  return n as Obj[];
};
const node = (c: Obj, i: number): Obj => nodes(c)[i]!;
const endpoint = (c: Obj): Obj => obj(cluster(c)['controlPlaneEndpoint']);

/** Run `imgforge check --json` on the base config after mutate; parse the report. */
async function check(mutate: (c: Obj) => void = () => undefined): Promise<{ code: number; report: Report }> {
  const c = structuredClone(BASE);
  mutate(c);
  const file = join(tempDir('imgforge-findings-'), 'images.config.ts');
  writeFileSync(file, `export default ${JSON.stringify(c, null, 2)};\n`);
  return checkFile(file);
}

async function checkFile(file: string): Promise<{ code: number; report: Report }> {
  const r = await cli(['--config', file, 'check', '--json']);
  assert.ok(r.code === 0 || r.code === 1, `check failed to run (exit ${r.code}):\n${r.stderr}`);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(report.config, file);
  assert.equal(report.errors, report.findings.filter((f) => f.severity === 'error').length);
  assert.equal(report.warnings, report.findings.filter((f) => f.severity === 'warning').length);
  assert.equal(report.ok, report.errors === 0);
  assert.equal(r.code, report.ok ? 0 : 1, 'exit 1 exactly when the report has errors');
  return { code: r.code, report };
}

/** "error:etcd-quorum" for every error and warning, sorted: what a case expects and nothing else. */
const problems = (r: Report): string[] =>
  r.findings.filter((f) => f.severity !== 'info').map((f) => `${f.severity}:${f.id}`).sort();

/** The findings with this id; asserts there are `count` of them. */
function findings(r: Report, id: string, count = 1): Finding[] {
  const found = r.findings.filter((f) => f.id === id);
  assert.equal(found.length, count, `expected ${count} ${id} finding(s), got:\n${JSON.stringify(r.findings, null, 2)}`);
  return found;
}
const one = (r: Report, id: string): Finding => findings(r, id)[0]!;

/** Assert exit code, the exact set of errors and warnings, and return the report. */
async function expectProblems(mutate: (c: Obj) => void, code: 0 | 1, expected: readonly string[]): Promise<Report> {
  const { code: actual, report } = await check(mutate);
  assert.deepEqual(problems(report), [...expected].sort(), JSON.stringify(report.findings, null, 2));
  assert.equal(actual, code);
  return report;
}

test('the base config is clean: only the etcd-quorum and bootstrap-token notes', async () => {
  const { code, report } = await check();
  assert.equal(code, 0);
  assert.deepEqual(report.findings.map((f) => `${f.severity}:${f.id}`), ['info:etcd-quorum', 'info:bootstrap-token-ttl']);
  assert.equal(report.findings[0]!.message, 'etcd (stacked) has 3 members (cp01, cp02, cp03) and survives 1 failure.');
});

describe('etcd', () => {
  test('etcd-quorum: two stacked control planes survive 0 failures (error)', async () => {
    const r = await expectProblems((c) => { c['nodes'] = [cp(1), cp(2), worker(1)]; }, 1, ['error:etcd-quorum']);
    const f = one(r, 'etcd-quorum');
    assert.equal(f.severity, 'error');
    assert.match(f.message, /^etcd \(stacked\) has 2 members \(cp01, cp02\) and survives 0 failures: a majority of 2 is 2/);
    assert.match(f.hint!, /Give a worker `etcd: true`/);
    assert.match(f.hint!, /add a third control plane/);
    assert.deepEqual(f.paths, ['nodes[0]', 'nodes[1]']);
  });

  test('etcd-quorum: etcd: true on a worker fixes the two-control-plane trap (3 members survive 1 failure)', async () => {
    const r = await expectProblems((c) => { c['nodes'] = [cp(1), cp(2), worker(1, { etcd: true })]; }, 0, []);
    assert.equal(r.ok, true);
    const f = one(r, 'etcd-quorum');
    assert.equal(f.severity, 'info');
    assert.equal(f.message, 'etcd (stacked) has 3 members (cp01, cp02, w01) and survives 1 failure.');
    assert.deepEqual(f.paths, []);
  });

  test('etcd-quorum: a single control plane is not highly available (warning)', async () => {
    const r = await expectProblems((c) => { c['nodes'] = [cp(1), worker(1)]; }, 0, ['warning:etcd-quorum']);
    const f = one(r, 'etcd-quorum');
    assert.match(f.message, /has 1 member \(cp01\) and survives 0 failures: the cluster is not highly available/);
    assert.deepEqual(f.paths, ['nodes[0]']);
  });

  test('etcd-quorum: four members are no better than three (warning)', async () => {
    const r = await expectProblems((c) => { nodes(c).push(worker(1, { etcd: true })); }, 0, ['warning:etcd-quorum']);
    const f = one(r, 'etcd-quorum');
    assert.match(f.message, /has 4 members \(cp01, cp02, cp03, w01\) and survives 1 failure, no more than 3 members would/);
    assert.equal(f.hint, 'Use an odd number of etcd members.');
    assert.deepEqual(f.paths, ['nodes[0]', 'nodes[1]', 'nodes[2]', 'nodes[3]']);
  });

  test('etcd-quorum: external topology without etcd nodes (error)', async () => {
    const r = await expectProblems((c) => { cluster(c)['etcd'] = { topology: 'external' }; }, 1, ['error:etcd-quorum']);
    const f = one(r, 'etcd-quorum');
    assert.equal(f.message, 'The etcd topology is "external" but no node has role "etcd".');
    assert.deepEqual(f.paths, ['cluster.etcd.topology']);
  });

  test('etcd-quorum: external topology with three etcd nodes counts only them', async () => {
    const r = await expectProblems((c) => {
      cluster(c)['etcd'] = { topology: 'external' };
      c['nodes'] = [cp(1), cp(2), etcdNode(1), etcdNode(2), etcdNode(3)];
    }, 0, []);
    assert.equal(one(r, 'etcd-quorum').message, 'etcd (external) has 3 members (etcd1, etcd2, etcd3) and survives 1 failure.');
  });

  test('etcd-role-topology: role etcd with the stacked topology (error)', async () => {
    const r = await expectProblems((c) => { nodes(c).push(etcdNode(1)); }, 1, ['error:etcd-role-topology']);
    const f = one(r, 'etcd-role-topology');
    assert.equal(f.message, 'etcd1 has role "etcd", but the etcd topology is "stacked".');
    assert.deepEqual(f.paths, ['nodes[3].role', 'cluster.etcd.topology']);
  });

  test('etcd-flag-role: etcd: true on a control plane (error)', async () => {
    const r = await expectProblems((c) => { node(c, 0)['etcd'] = true; }, 1, ['error:etcd-flag-role']);
    const f = one(r, 'etcd-flag-role');
    assert.equal(f.message, 'cp01: etcd: true is for workers; a control plane already runs a stacked member.');
    assert.equal(f.hint, 'Remove etcd: true from this node.');
    assert.deepEqual(f.paths, ['nodes[0].etcd']);
  });

  test('etcd-flag-role: etcd: true on a control plane with the external topology says why (error)', async () => {
    const r = await expectProblems((c) => {
      cluster(c)['etcd'] = { topology: 'external' };
      c['nodes'] = [cp(1, { etcd: true }), cp(2), etcdNode(1), etcdNode(2), etcdNode(3)];
    }, 1, ['error:etcd-flag-role']);
    assert.equal(one(r, 'etcd-flag-role').message, 'cp01: etcd: true is for workers; in the external topology only nodes with role "etcd" are members.');
  });

  test('etcd-flag-role: etcd: true on a worker with the external topology (error)', async () => {
    const r = await expectProblems((c) => {
      cluster(c)['etcd'] = { topology: 'external' };
      c['nodes'] = [cp(1), cp(2), etcdNode(1), etcdNode(2), etcdNode(3), worker(1, { etcd: true })];
    }, 1, ['error:etcd-flag-role']);
    const f = one(r, 'etcd-flag-role');
    assert.match(f.message, /^w01: etcd: true adds a stacked member, but the etcd topology is "external"/);
    assert.deepEqual(f.paths, ['nodes[5].etcd']);
  });

  test('no-control-plane: only workers (error)', async () => {
    const r = await expectProblems((c) => { c['nodes'] = [worker(1), worker(2), worker(3)]; }, 1, ['error:no-control-plane']);
    assert.deepEqual(one(r, 'no-control-plane').paths, ['nodes']);
  });
});

describe('identity', () => {
  test('duplicate-hostname (error)', async () => {
    const r = await expectProblems((c) => { node(c, 2)['hostname'] = 'cp01'; }, 1, ['error:duplicate-hostname']);
    const f = one(r, 'duplicate-hostname');
    assert.equal(f.message, 'nodes[0] and nodes[2] share the hostname cp01.');
    assert.deepEqual(f.paths, ['nodes[0].hostname', 'nodes[2].hostname']);
  });

  test('duplicate-address: same address, different prefix (error)', async () => {
    const r = await expectProblems((c) => { node(c, 1)['address'] = '192.168.1.11/25'; }, 1, ['error:duplicate-address']);
    const f = one(r, 'duplicate-address');
    assert.equal(f.message, 'nodes[0] and nodes[1] share the address 192.168.1.11.');
    assert.deepEqual(f.paths, ['nodes[0].address', 'nodes[1].address']);
  });

  test('duplicate-mac: case does not hide a duplicate (error)', async () => {
    const r = await expectProblems((c) => { node(c, 2)['mac'] = '52:54:00:00:00:1B'; node(c, 1)['mac'] = '52:54:00:00:00:1b'; }, 1, ['error:duplicate-mac']);
    const f = one(r, 'duplicate-mac');
    assert.equal(f.message, 'nodes[1] and nodes[2] share the MAC address 52:54:00:00:00:1b.');
    assert.deepEqual(f.paths, ['nodes[1].mac', 'nodes[2].mac']);
  });
});

describe('network', () => {
  test('vip-outside-subnet: one finding per control plane (error)', async () => {
    const r = await expectProblems((c) => { endpoint(c)['vip'] = '192.168.2.10'; }, 1,
      ['error:vip-outside-subnet', 'error:vip-outside-subnet', 'error:vip-outside-subnet']);
    const found = findings(r, 'vip-outside-subnet', 3);
    assert.match(found[0]!.message, /The VIP 192\.168\.2\.10 is outside cp01's subnet 192\.168\.1\.0\/24/);
    assert.deepEqual(found.map((f) => f.paths), [0, 1, 2].map((i) => ['cluster.controlPlaneEndpoint.vip', `nodes[${i}].address`]));
  });

  test('vip-outside-subnet: only control planes must hold the VIP (a worker on another subnet trips only the gateway check)', async () => {
    const r = await expectProblems((c) => { nodes(c).push(worker(1, { address: '192.168.7.21/24' })); }, 1, ['error:gateway-outside-subnet']);
    assert.deepEqual(one(r, 'gateway-outside-subnet').paths, ['nodes[3].address', 'network.gateway']);
  });

  test('vip-is-node: the VIP is a node address (error)', async () => {
    const r = await expectProblems((c) => { endpoint(c)['vip'] = '192.168.1.12'; }, 1, ['error:vip-is-node']);
    const f = one(r, 'vip-is-node');
    assert.equal(f.message, "The VIP 192.168.1.12 is cp02's own address.");
    assert.deepEqual(f.paths, ['cluster.controlPlaneEndpoint.vip', 'nodes[1].address']);
  });

  test('vip-is-gateway (error)', async () => {
    const r = await expectProblems((c) => { obj(c['network'])['gateway'] = '192.168.1.10'; }, 1, ['error:vip-is-gateway']);
    assert.deepEqual(one(r, 'vip-is-gateway').paths, ['cluster.controlPlaneEndpoint.vip']);
  });

  test('address-is-gateway (error)', async () => {
    const r = await expectProblems((c) => { node(c, 1)['address'] = '192.168.1.1/24'; }, 1, ['error:address-is-gateway']);
    const f = one(r, 'address-is-gateway');
    assert.equal(f.message, "cp02's address is the gateway 192.168.1.1.");
    assert.deepEqual(f.paths, ['nodes[1].address', 'network.gateway']);
  });

  test('gateway-outside-subnet (error per static node)', async () => {
    const r = await expectProblems((c) => { obj(c['network'])['gateway'] = '192.168.2.1'; }, 1,
      ['error:gateway-outside-subnet', 'error:gateway-outside-subnet', 'error:gateway-outside-subnet']);
    const found = findings(r, 'gateway-outside-subnet', 3);
    assert.equal(found[0]!.message, "The gateway 192.168.2.1 is outside cp01's subnet 192.168.1.0/24.");
    assert.deepEqual(found.map((f) => f.paths), [0, 1, 2].map((i) => [`nodes[${i}].address`, 'network.gateway']));
  });

  test('gateway-missing: static nodes without a gateway (error)', async () => {
    const r = await expectProblems((c) => { delete obj(c['network'])['gateway']; }, 1, ['error:gateway-missing']);
    const f = one(r, 'gateway-missing');
    assert.equal(f.message, 'Nodes have static addresses but network.gateway is not set.');
    assert.deepEqual(f.paths, ['network.gateway']);
  });

  test('gateway-missing does not fire when every node is on DHCP (control-plane-dhcp instead: an error when the nodes assemble)', async () => {
    const r = await expectProblems((c) => {
      delete obj(c['network'])['gateway'];
      for (const n of nodes(c)) n['address'] = 'dhcp';
    }, 1, ['error:control-plane-dhcp', 'error:control-plane-dhcp', 'error:control-plane-dhcp']);
    assert.deepEqual(findings(r, 'control-plane-dhcp', 3).map((f) => f.paths), [['nodes[0].address'], ['nodes[1].address'], ['nodes[2].address']]);
  });

  test('control-plane-dhcp: a control plane on DHCP (error when the nodes assemble, else a warning)', async () => {
    const r = await expectProblems((c) => { node(c, 2)['address'] = 'dhcp'; }, 1, ['error:control-plane-dhcp']);
    const f = one(r, 'control-plane-dhcp');
    assert.match(f.message, /^cp03 is a control plane on DHCP.*; the control planes joining after it find it by its address\.$/);
    await expectProblems((c) => { node(c, 2)['address'] = 'dhcp'; cluster(c)['selfAssembly'] = false; }, 0, ['warning:control-plane-dhcp']);
    assert.equal(f.hint, 'Give control planes static addresses.');
    assert.deepEqual(f.paths, ['nodes[2].address']);
  });

  test('control-plane-dhcp: a worker on DHCP is fine', async () => {
    await expectProblems((c) => { nodes(c).push(worker(1, { address: 'dhcp' })); }, 0, []);
  });

  test('control-plane-no-mac: matched by MAC but no mac given (warning)', async () => {
    const r = await expectProblems((c) => { delete node(c, 1)['mac']; }, 0, ['warning:control-plane-no-mac']);
    const f = one(r, 'control-plane-no-mac');
    assert.match(f.message, /^cp02 has no mac: its LAN interface is matched by name "en\*"/);
    assert.deepEqual(f.paths, ['nodes[1].mac']);
  });

  test('control-plane-no-mac: not raised when interfaces are matched by name', async () => {
    await expectProblems((c) => { obj(c['network'])['match'] = 'name'; delete node(c, 1)['mac']; }, 0, []);
  });

  test('haproxy-port: keepalived+haproxy on port 6443 (error); 8443 is fine', async () => {
    const r = await expectProblems((c) => { endpoint(c)['provider'] = 'keepalived+haproxy'; }, 1, ['error:haproxy-port']);
    const f = one(r, 'haproxy-port');
    assert.match(f.hint!, /8443/);
    assert.deepEqual(f.paths, ['cluster.controlPlaneEndpoint.port']);
    await expectProblems((c) => { endpoint(c)['provider'] = 'keepalived+haproxy'; endpoint(c)['port'] = 8443; }, 0, []);
  });

  test('cidr-overlap: pod network overlapping the service network (error)', async () => {
    const r = await expectProblems((c) => { cluster(c)['podCidr'] = '10.100.0.0/16'; }, 1, ['error:cidr-overlap']);
    const f = one(r, 'cidr-overlap');
    assert.equal(f.message, 'The pod network 10.100.0.0/16 overlaps the service network 10.96.0.0/12: packets to one would be routed to the other.');
    assert.deepEqual(f.paths, ['cluster.podCidr', 'cluster.serviceCidr']);
  });

  test('cidr-overlap: Calico-style pod network 192.168.0.0/16 over a 192.168.1.0/24 LAN (error)', async () => {
    const r = await expectProblems((c) => {
      obj(cluster(c)['cni'])['plugin'] = 'calico';
      obj(cluster(c)['cni'])['version'] = '3.32.1';
      cluster(c)['podCidr'] = '192.168.0.0/16';
    }, 1, ['error:cidr-overlap', 'error:cidr-overlap']);
    const [lan, vip] = findings(r, 'cidr-overlap', 2);
    assert.equal(lan!.message, 'The pod network 192.168.0.0/16 overlaps the LAN 192.168.1.0/24: packets to one would be routed to the other.');
    assert.match(lan!.hint!, /Calico's default 192\.168\.0\.0\/16/);
    assert.deepEqual(lan!.paths, ['cluster.podCidr', 'nodes']);
    assert.equal(vip!.message, 'The VIP 192.168.1.10 lies inside the pod network.');
    assert.deepEqual(vip!.paths, ['cluster.controlPlaneEndpoint.vip']);
  });

  test('cidr-overlap: VIP inside the service network (error)', async () => {
    const r = await expectProblems((c) => { cluster(c)['serviceCidr'] = '192.168.1.0/28'; }, 1, ['error:cidr-overlap', 'error:cidr-overlap']);
    const found = findings(r, 'cidr-overlap', 2);
    const vip = found.find((f) => f.message.startsWith('The VIP'));
    assert.ok(vip);
    assert.equal(vip.message, 'The VIP 192.168.1.10 lies inside the service network.');
    assert.deepEqual(vip.paths, ['cluster.controlPlaneEndpoint.vip']);
    const lan = found.find((f) => f !== vip)!;
    assert.deepEqual(lan.paths, ['cluster.serviceCidr', 'nodes']);
  });

  test('cidr-overlap: a MetalLB pool inside the service network (error)', async () => {
    const r = await expectProblems((c) => {
      cluster(c)['addons'] = { metallb: { pools: [{ name: 'svc', addresses: ['10.96.0.0/24'] }] } };
    }, 1, ['error:cidr-overlap', 'error:metallb-l2-subnet']);
    const f = one(r, 'cidr-overlap');
    assert.equal(f.message, 'MetalLB pool "svc" (10.96.0.0/24) overlaps the service network 10.96.0.0/12.');
    assert.deepEqual(f.paths, ['cluster.addons.metallb.pools[0].addresses[0]', 'cluster.serviceCidr']);
  });

  test('vip-in-metallb-pool (error), naming the pool entry', async () => {
    const r = await expectProblems((c) => {
      cluster(c)['addons'] = { metallb: { pools: [
        { name: 'lan', addresses: ['192.168.1.240/28'] },
        { name: 'api', addresses: ['192.168.1.200/32', '192.168.1.5-192.168.1.10'] },
      ] } };
    }, 1, ['error:vip-in-metallb-pool']);
    const f = one(r, 'vip-in-metallb-pool');
    assert.match(f.message, /^The VIP 192\.168\.1\.10 is inside MetalLB pool "api" \(192\.168\.1\.5-192\.168\.1\.10\)/);
    assert.deepEqual(f.paths, ['cluster.controlPlaneEndpoint.vip', 'cluster.addons.metallb.pools[1].addresses[1]']);
  });

  test('node-in-metallb-pool (error per node inside the pool)', async () => {
    const r = await expectProblems((c) => {
      cluster(c)['addons'] = { metallb: { pools: [{ name: 'lan', addresses: ['192.168.1.12-192.168.1.20'] }] } };
    }, 1, ['error:node-in-metallb-pool', 'error:node-in-metallb-pool']);
    const found = findings(r, 'node-in-metallb-pool', 2);
    assert.equal(found[0]!.message, 'cp02\'s address 192.168.1.12 is inside MetalLB pool "lan" (192.168.1.12-192.168.1.20).');
    assert.deepEqual(found.map((f) => f.paths), [
      ['nodes[1].address', 'cluster.addons.metallb.pools[0].addresses[0]'],
      ['nodes[2].address', 'cluster.addons.metallb.pools[0].addresses[0]'],
    ]);
  });

  test('metallb-bgp-no-peer: a BGP pool without peers (error); with a peer it is fine', async () => {
    const pools = [{ name: 'bgp', addresses: ['10.250.0.0/24'], mode: 'bgp' }];
    const r = await expectProblems((c) => { cluster(c)['addons'] = { metallb: { pools } }; }, 1, ['error:metallb-bgp-no-peer']);
    const f = one(r, 'metallb-bgp-no-peer');
    assert.equal(f.message, 'MetalLB pool "bgp" is announced by BGP but no bgpPeers are set.');
    assert.deepEqual(f.paths, ['cluster.addons.metallb.pools[0].mode']);
    await expectProblems((c) => {
      cluster(c)['addons'] = { metallb: { pools, bgpPeers: [{ address: '192.168.1.1', asn: 65000, myAsn: 65010 }] } };
    }, 0, []);
  });
});

describe('platform', () => {
  test('arch-mismatch: an amd64 base on an odroid-m1 (arm64) node (error)', async () => {
    const r = await expectProblems((c) => {
      nodes(c).push(worker(1, { board: 'odroid-m1', overrides: { base: { arch: 'amd64' } } }));
    }, 1, ['error:arch-mismatch']);
    const f = one(r, 'arch-mismatch');
    assert.equal(f.message, 'w01: board odroid-m1 is arm64 but its base image is amd64; it would not boot.');
    assert.deepEqual(f.paths, ['nodes[3].board', 'nodes[3].overrides.base']);
  });

  test('etcd-on-slow-media: a control plane on a USB thin client (warning)', async () => {
    const r = await expectProblems((c) => { node(c, 2)['board'] = 'thin-client'; }, 0, ['warning:etcd-on-slow-media']);
    const f = one(r, 'etcd-on-slow-media');
    assert.match(f.message, /^cp03 is a control plane on USB storage/);
    assert.match(f.hint!, /SSD, NVMe or eMMC/);
    assert.deepEqual(f.paths, ['nodes[2].disk.media', 'nodes[2].board']);
  });

  test('etcd-on-slow-media: an etcd worker on an SD card (warning); a plain USB worker is fine', async () => {
    const r = await expectProblems((c) => {
      c['nodes'] = [cp(1), cp(2), worker(1, { etcd: true, disk: { media: 'sd' } }), worker(2, { board: 'thin-client' })];
    }, 0, ['warning:etcd-on-slow-media']);
    const f = one(r, 'etcd-on-slow-media');
    assert.match(f.message, /^w01 is an? etcd member on SD storage/);
    assert.deepEqual(f.paths, ['nodes[2].disk.media', 'nodes[2].board']);
  });
});

describe('versions', () => {
  const noPins = (c: Obj): void => {
    delete obj(cluster(c)['runtime'])['version'];
    delete obj(cluster(c)['cni'])['version'];
  };

  test('kubernetes-version: newer than the data (warning)', async () => {
    const r = await expectProblems((c) => { noPins(c); cluster(c)['kubernetesVersion'] = '1.38.0'; }, 0, ['warning:kubernetes-version']);
    const f = one(r, 'kubernetes-version');
    assert.equal(f.message, "Kubernetes 1.38 is newer than imgforge's data (up to 1.37); compatibility is not checked.");
    assert.deepEqual(f.paths, ['cluster.kubernetesVersion']);
  });

  test('kubernetes-version: newer than the data, pinned runtime and CNI are not judged', async () => {
    const r = await expectProblems((c) => { cluster(c)['kubernetesVersion'] = '1.38.0'; }, 0, ['warning:kubernetes-version']);
    assert.match(one(r, 'kubernetes-version').message, /compatibility is not checked/);
  });

  test('kubernetes-version: 1.30.x is end-of-life on 2026-11-24 (warning)', async () => {
    const r = await expectProblems((c) => { noPins(c); cluster(c)['kubernetesVersion'] = '1.30.4'; }, 0, ['warning:kubernetes-version']);
    const f = one(r, 'kubernetes-version');
    assert.equal(f.message, 'Kubernetes 1.30 reached end of life on 2025-07-15: no more security fixes.');
    assert.deepEqual(f.paths, ['cluster.kubernetesVersion']);
  });

  test('kubernetes-version: older than the data (error)', async () => {
    const r = await expectProblems((c) => { noPins(c); cluster(c)['kubernetesVersion'] = '1.28.4'; }, 1, ['error:kubernetes-version']);
    assert.equal(one(r, 'kubernetes-version').message, "Kubernetes 1.28 is out of support and too old for imgforge's data.");
  });

  test('runtime-docker: Docker is refused (error, hint mentions 1.24)', async () => {
    const r = await expectProblems((c) => { cluster(c)['runtime'] = { name: 'docker' }; }, 1, ['error:runtime-docker']);
    const f = one(r, 'runtime-docker');
    assert.match(f.message, /removed dockershim in 1\.24/);
    assert.match(f.hint!, /cri-dockerd/);
    assert.deepEqual(f.paths, ['cluster.runtime.name']);
  });

  test('runtime-version: containerd 1.7 with Kubernetes 1.36.1 (error)', async () => {
    const r = await expectProblems((c) => {
      cluster(c)['kubernetesVersion'] = '1.36.1';
      delete obj(cluster(c)['cni'])['version'];
      obj(cluster(c)['runtime'])['version'] = '1.7';
    }, 1, ['error:runtime-version']);
    const f = one(r, 'runtime-version');
    assert.equal(f.message, 'containerd 1.7 supports Kubernetes 1.26 to 1.35, not 1.36.');
    assert.deepEqual(f.paths, ['cluster.runtime.version', 'cluster.kubernetesVersion']);
  });

  test('runtime-version: a containerd line without data (warning)', async () => {
    const r = await expectProblems((c) => { obj(cluster(c)['runtime'])['version'] = '9.9'; }, 0, ['warning:runtime-version']);
    assert.deepEqual(one(r, 'runtime-version').paths, ['cluster.runtime.version']);
  });

  test('runtime-version: CRI-O minor must match the Kubernetes minor (error); matching is fine', async () => {
    // Without self-assembly: the nodes install containerd when they assemble (runtime-unsupported).
    const r = await expectProblems((c) => { cluster(c)['runtime'] = { name: 'cri-o', version: '1.34.2' }; cluster(c)['selfAssembly'] = false; }, 1, ['error:runtime-version']);
    const f = one(r, 'runtime-version');
    assert.equal(f.message, 'CRI-O 1.34 is for Kubernetes 1.34, not 1.35: CRI-O minors follow Kubernetes minors.');
    assert.match(f.hint!, /^Use CRI-O 1\.35\./);
    assert.deepEqual(f.paths, ['cluster.runtime.version', 'cluster.kubernetesVersion']);
    await expectProblems((c) => { cluster(c)['runtime'] = { name: 'cri-o', version: '1.35' }; cluster(c)['selfAssembly'] = false; }, 0, []);
  });

  test('cni-version: Cilium 1.18 does not support Kubernetes 1.35 (confirmed data: error)', async () => {
    const r = await expectProblems((c) => { obj(cluster(c)['cni'])['version'] = '1.18.2'; }, 1, ['error:cni-version']);
    const f = one(r, 'cni-version');
    assert.equal(f.message, 'Cilium 1.18 supports Kubernetes 1.30 to 1.33, not 1.35.');
    assert.deepEqual(f.paths, ['cluster.cni.version', 'cluster.kubernetesVersion']);
  });

  test('cni-version: Cilium 1.17 out of range by unconfirmed data only warns', async () => {
    const r = await expectProblems((c) => { obj(cluster(c)['cni'])['version'] = '1.17.4'; }, 0, ['warning:cni-version']);
    assert.match(one(r, 'cni-version').message, /\(by a secondary source\)\.$/);
  });

  test('cni-version: Calico 3.30 with Kubernetes 1.35 (error)', async () => {
    const r = await expectProblems((c) => { cluster(c)['cni'] = { plugin: 'calico', version: '3.30.1' }; }, 1, ['error:cni-version']);
    assert.equal(one(r, 'cni-version').message, 'Calico 3.30 supports Kubernetes 1.31 to 1.33, not 1.35.');
  });

  test('cni-kube-proxy-replacement: kubeProxyReplacement with Calico (error)', async () => {
    const r = await expectProblems((c) => {
      cluster(c)['cni'] = { plugin: 'calico', version: '3.32.1', kubeProxyReplacement: true };
    }, 1, ['error:cni-kube-proxy-replacement']);
    assert.deepEqual(one(r, 'cni-kube-proxy-replacement').paths, ['cluster.cni.kubeProxyReplacement']);
  });

  test('gateway-api-kpr: Gateway API with Cilium but no kubeProxyReplacement (error); with it, fine', async () => {
    const r = await expectProblems((c) => { cluster(c)['addons'] = { gatewayApi: { version: '1.3.0' } }; }, 1, ['error:gateway-api-kpr']);
    const f = one(r, 'gateway-api-kpr');
    assert.equal(f.hint, 'Set cluster.cni.kubeProxyReplacement: true.');
    assert.deepEqual(f.paths, ['cluster.addons.gatewayApi', 'cluster.cni.kubeProxyReplacement']);
    await expectProblems((c) => {
      cluster(c)['addons'] = { gatewayApi: { version: '1.3.0' } };
      obj(cluster(c)['cni'])['kubeProxyReplacement'] = true;
    }, 0, []);
  });
});

describe('storage', () => {
  const layoutProblem = async (mutate: (c: Obj) => void, message: string, path = 'nodes[0].layout'): Promise<void> => {
    const r = await expectProblems(mutate, 1, ['error:layout-invalid']);
    const f = one(r, 'layout-invalid');
    assert.equal(f.message, message);
    assert.deepEqual(f.paths, [path], 'the path the user wrote the layout at');
  };

  test('layout-invalid: two partitions take "rest"', () => layoutProblem(
    (c) => { node(c, 0)['layout'] = { reserved: [{ name: 'data', size: 'rest' }] }; },
    'cp01: only one partition can take "rest", but root and data do.'));

  test('layout-invalid: shares over 100%', () => layoutProblem(
    (c) => { node(c, 0)['layout'] = { root: { size: '60%' }, reserved: [{ name: 'data', size: '50%' }] }; },
    'cp01: the shares add up to 110% of the disk.'));

  test('layout-invalid: ext4 without a mountpoint', () => layoutProblem(
    (c) => { node(c, 0)['layout'] = { reserved: [{ name: 'data', size: '10GiB', format: 'ext4' }] }; },
    'cp01: "data" is ext4 but has no mountpoint.'));

  test('layout-invalid: raw with a mountpoint', () => layoutProblem(
    (c) => { node(c, 0)['layout'] = { reserved: [{ name: 'data', size: '10GiB', mountpoint: '/data' }] }; },
    'cp01: "data" is raw (no filesystem) and cannot be mounted at /data.'));

  test('layout-invalid: a partition name used twice', () => layoutProblem(
    (c) => { node(c, 0)['layout'] = { reserved: [{ name: 'data', size: '10GiB' }, { name: 'data', size: '20GiB' }] }; },
    'cp01: the partition name "data" is used twice or is reserved by imgforge.'));

  test('layout-invalid: a partition name imgforge reserves', () => layoutProblem(
    (c) => { node(c, 0)['layout'] = { reserved: [{ name: 'cidata', size: '10GiB' }] }; },
    'cp01: the partition name "cidata" is used twice or is reserved by imgforge.'));

  test('layout-invalid: disk too small for the fixed sizes', () => layoutProblem(
    (c) => { node(c, 0)['disk'] = { size: '100GB' }; node(c, 0)['layout'] = { root: { size: '64GiB' }, reserved: [{ name: 'data', size: '64GiB' }] }; },
    'cp01: the partitions need 128GiB but the disk holds 93.13GiB.'));

  test('layout-invalid: a layout set through overrides is checked too', () => layoutProblem(
    (c) => { node(c, 0)['overrides'] = { layout: { reserved: [{ name: 'data', size: 'rest' }] } }; },
    'cp01: only one partition can take "rest", but root and data do.', 'nodes[0].overrides.layout'));

  const cephHalf = { root: { size: '50%' }, reserved: [{ name: 'ceph', size: 'rest', format: 'raw' }] };

  test('rook-partition: Rook enabled but no node reserves the partition (error)', async () => {
    const r = await expectProblems((c) => { cluster(c)['addons'] = { rookCeph: {} }; }, 1, ['error:rook-partition']);
    const f = one(r, 'rook-partition');
    assert.equal(f.message, 'Rook-Ceph is enabled but no node reserves a partition named "ceph".');
    assert.deepEqual(f.paths, ['cluster.addons.rookCeph.partition']);
  });

  test('rook-partition: a formatted Ceph partition (error)', async () => {
    const r = await expectProblems((c) => {
      cluster(c)['addons'] = { rookCeph: { replicas: 2 } };
      node(c, 0)['layout'] = { root: { size: '50%' }, reserved: [{ name: 'ceph', size: 'rest', format: 'ext4', mountpoint: '/var/lib/ceph-data' }] };
      node(c, 1)['layout'] = cephHalf;
      node(c, 2)['layout'] = cephHalf;
    }, 1, ['error:rook-partition']);
    const f = one(r, 'rook-partition');
    assert.match(f.message, /^cp01: "ceph" is formatted/);
    assert.deepEqual(f.paths, ['nodes[0].layout']);
  });

  test('rook-replicas: more replicas than nodes with the partition (error); enough nodes is fine', async () => {
    const r = await expectProblems((c) => {
      cluster(c)['addons'] = { rookCeph: { replicas: 3 } };
      node(c, 0)['layout'] = cephHalf;
      node(c, 1)['layout'] = cephHalf;
    }, 1, ['error:rook-replicas']);
    const f = one(r, 'rook-replicas');
    assert.equal(f.message, 'Rook-Ceph keeps 3 replicas on different hosts, but only 2 nodes reserve a raw OSD partition.');
    assert.deepEqual(f.paths, ['cluster.addons.rookCeph.replicas']);
    await expectProblems((c) => {
      cluster(c)['addons'] = { rookCeph: { replicas: 3 } };
      for (const n of nodes(c)) n['layout'] = cephHalf;
    }, 0, []);
  });

  test('rook-mon-quorum: Ceph on fewer than three hosts (warning)', async () => {
    const r = await expectProblems((c) => {
      c['nodes'] = [cp(1, { layout: cephHalf })];
      cluster(c)['addons'] = { rookCeph: { replicas: 1 } };
    }, 0, ['warning:etcd-quorum', 'warning:rook-mon-quorum']);
    const f = one(r, 'rook-mon-quorum');
    assert.equal(f.message, 'Ceph monitors need three hosts to survive one failure; the cluster has 1 node.');
    assert.deepEqual(f.paths, ['cluster.addons.rookCeph']);
  });

  test('longhorn-partition: the Longhorn partition is not ext4 (error); ext4 with a mountpoint is fine', async () => {
    const r = await expectProblems((c) => {
      cluster(c)['addons'] = { longhorn: { replicas: 1 } };
      node(c, 1)['layout'] = { root: { size: '50%' }, reserved: [{ name: 'longhorn', size: 'rest' }] };
    }, 1, ['error:longhorn-partition']);
    const f = one(r, 'longhorn-partition');
    assert.match(f.message, /^cp02: Longhorn stores replicas as files and needs an ext4/);
    assert.deepEqual(f.paths, ['nodes[1].layout']);
    await expectProblems((c) => {
      cluster(c)['addons'] = { longhorn: { replicas: 1 } };
      node(c, 1)['layout'] = { root: { size: '50%' }, reserved: [{ name: 'longhorn', size: 'rest', format: 'ext4', mountpoint: '/var/lib/longhorn' }] };
    }, 0, []);
  });

  test('longhorn-partition: Longhorn without any node reserving its partition (warning)', async () => {
    const r = await expectProblems((c) => { cluster(c)['addons'] = { longhorn: {} }; }, 0, ['warning:longhorn-partition']);
    const f = one(r, 'longhorn-partition');
    assert.match(f.message, /no node reserves a partition named "longhorn": replicas will live on the root file system/);
    assert.deepEqual(f.paths, ['cluster.addons.longhorn.partition']);
  });

  test('rook-replicas: a formatted ceph partition does not count as an OSD', async () => {
    const r = await expectProblems((c) => {
      cluster(c)['addons'] = { rookCeph: { replicas: 2 } };
      node(c, 0)['layout'] = { root: { size: '50%' }, reserved: [{ name: 'ceph', size: 'rest', format: 'ext4', mountpoint: '/srv' }] };
      node(c, 1)['layout'] = { root: { size: '50%' }, reserved: [{ name: 'ceph', size: 'rest', format: 'raw' }] };
    }, 1, ['error:rook-partition', 'error:rook-replicas']);
    assert.match(one(r, 'rook-replicas').message, /only 1 node reserves a raw OSD partition/);
  });
});

describe('bundled configs pass check', () => {
  for (const config of ['images.config.ts', 'examples/k8scp-haproxy-calico.config.ts', 'examples/metallb-bgp-longhorn.config.ts', 'examples/external-etcd.config.ts']) {
    test(config, async () => {
      const { code, report } = await checkFile(join(ROOT, config));
      assert.equal(code, 0);
      assert.equal(report.ok, true);
      assert.equal(report.errors, 0);
      // The only warnings: ODROID-M2 nodes, which read U-Boot from their own disk, until the user gives the file.
      const warnings = report.findings.filter((f) => f.severity === 'warning');
      assert.deepEqual(warnings.filter((f) => f.id !== 'boot-loader-missing'), [], JSON.stringify(report.findings, null, 2));
      for (const w of warnings) assert.match(w.message, /^\w+: board odroid-m2 reads its boot loader from the disk at byte 32768/);
      const quorum = one(report, 'etcd-quorum');
      assert.equal(quorum.severity, 'info');
      assert.match(quorum.message, /has 3 members .* and survives 1 failure\.$/);
    });
  }

  test('the list above covers every examples/*.config.ts', async () => {
    assert.deepEqual(readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.config.ts')).sort(),
      ['external-etcd.config.ts', 'k8scp-haproxy-calico.config.ts', 'metallb-bgp-longhorn.config.ts']);
  });
});
