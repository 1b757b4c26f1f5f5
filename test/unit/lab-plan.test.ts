// The lab's plan, decided without I/O: the LAN built from the config's own addresses, which
// nodes run on another board and why, and QEMU arguments that join every node to one hub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadCluster, type Cluster } from '../../src/config/index.ts';
import { labBoard, labConfigValue, type LabMode, type Substitution } from '../../src/plan/lab-config.ts';
import { labNetwork } from '../../src/plan/lab-network.ts';
import { planLab, ROUTER, type LabPlan } from '../../src/plan/lab.ts';
import { forward } from '../../src/execute/lab-switch.ts';
import { nodeProgress } from '../../src/protocol/progress.ts';
import { PROTOCOL_VERSION, type Event } from '../../src/protocol/events.ts';
import { isImgforgeError } from '../../src/errors/error.ts';
import { ROOT } from '../helpers.ts';

const EXAMPLE = join(ROOT, 'images.config.ts');
const FW = { code: '/fw/OVMF_CODE_4M.fd', vars: '/fw/OVMF_VARS_4M.fd' };

async function lab(mode: LabMode, targets: string[] = []): Promise<{ plan: LabPlan; subs: Substitution[]; cluster: Cluster }> {
  const cluster = await loadCluster(EXAMPLE);
  const network = labNetwork(cluster.config);
  const subs = cluster.nodes.flatMap((n) => {
    const s = labBoard(n.config.board, cluster.profiles, mode);
    return s ? [{ hostname: n.config.hostname, board: n.config.board, ...s }] : [];
  });
  const moved = await loadCluster(EXAMPLE, (v) => labConfigValue(v, { subs, dns: network.dns ?? undefined }));
  const ports = Object.fromEntries(moved.nodes.map((n, i) => [n.config.hostname, 40000 + i]));
  const lanPorts = Object.fromEntries([ROUTER, ...moved.nodes.map((n) => n.config.hostname)].map((h, i) => [h, { qemu: 50000 + 2 * i, switch: 50001 + 2 * i }]));
  return { plan: planLab(moved, subs, network, { mode, targets, memoryMiB: 1280, cpus: 1, kvm: false, firmware: FW, sshPorts: ports, lanPorts }), subs, cluster: moved };
}

test('the lab LAN is the nodes\' subnet with QEMU\'s router at the gateway; its resolver takes a free address when the config\'s DNS is the gateway', async () => {
  const { plan, cluster } = await lab('online');
  assert.deepEqual(plan.network, { subnet: '192.168.1.0/24', gateway: '192.168.1.1', resolver: '192.168.1.2', dns: ['192.168.1.2'], dhcpStart: '192.168.1.25' });
  assert.deepEqual(cluster.config.network.dns, ['192.168.1.2'], 'the nodes are given the lab\'s resolver');
  const hub = plan.router.join(' ');
  assert.match(hub, /-machine none/);
  assert.match(hub, /dgram,id=sw,local\.type=inet,local\.host=127\.0\.0\.1,local\.port=50000,remote\.type=inet,remote\.host=127\.0\.0\.1,remote\.port=50001/);
  assert.match(hub, /user,id=up,net=192\.168\.1\.0\/24,host=192\.168\.1\.1,dns=192\.168\.1\.2,dhcpstart=192\.168\.1\.25/);
  for (const n of plan.nodes) assert.match(hub, new RegExp(`hostfwd=tcp:127\\.0\\.0\\.1:${n.sshPort}-${n.address.split('/')[0]!.replace(/\./g, '\\.')}:22`));
});

test('every node is joined to the switch by its own UDP port pair, with its config MAC; files are relative to the lab folder, so labs never share one', async () => {
  const { plan } = await lab('online');
  for (const [i, n] of plan.nodes.entries()) {
    const args = n.qemu.join(' ');
    const [qemu, sw] = [50002 + 2 * i, 50003 + 2 * i];
    assert.match(args, new RegExp(`dgram,id=lan,local\\.type=inet,local\\.host=127\\.0\\.0\\.1,local\\.port=${qemu},remote\\.type=inet,remote\\.host=127\\.0\\.0\\.1,remote\\.port=${sw}`));
    assert.deepEqual(plan.switch.find((p) => p.name === n.hostname), { name: n.hostname, port: sw, peer: qemu, mac: n.mac });
    assert.match(args, new RegExp(`virtio-net-pci,netdev=lan,mac=${n.mac}`));
    assert.doesNotMatch(args, /-nic user/, 'no VM has a network of its own');
    for (const a of n.qemu.filter((x) => /\.(sock|qcow2|events|console|vars)\b/.test(x))) assert.doesNotMatch(a.replace(/file=\/fw\/\S+/, ''), /path=\/|file=\//, a);
  }
  assert.deepEqual(plan.nodes.map((n) => n.mac), ['00:1e:06:48:00:01', '00:1e:06:48:00:02', 'd0:50:99:00:00:21', '00:1e:06:49:00:22', '00:23:24:00:00:23', '00:e0:4c:00:00:24']);
  assert.ok(plan.nodes.every((n) => n.qemu.includes('-name')), 'each QEMU is named for ps');
  assert.ok(plan.nodes.every((n) => !n.qemu.some((a) => a.includes('imgforge.assembly=off'))), 'lab nodes assemble the cluster');
});

test('boards QEMU cannot boot are substituted and said out loud: online as x86 (Ubuntu), offline every node as x86-debian', async () => {
  const online = await lab('online');
  assert.deepEqual(online.subs.map((s) => [s.hostname, s.board, s.runsAs]), [['cp01', 'odroid-m1', 'x86'], ['cp02', 'odroid-m1', 'x86'], ['worker02', 'odroid-m2', 'x86']]);
  assert.match(online.subs[0]!.why, /QEMU does not emulate the .*ODROID-M1.*Ubuntu 24\.04/);
  const offline = await lab('offline');
  assert.equal(offline.subs.length, 6);
  assert.ok(offline.plan.nodes.every((n) => n.substituted?.runsAs === 'x86-debian'));
  assert.match(offline.subs[2]!.why, /offline: Ubuntu 24\.04 cannot be downloaded here/);
  // The moved nodes keep what is theirs: role, address, disk size, layout.
  const cp01 = offline.cluster.nodes[0]!;
  assert.deepEqual([cp01.config.board, cp01.config.role, cp01.config.address, cp01.diskSize], ['x86-debian', 'control-plane', '192.168.1.11/24', 1e12]);
  assert.deepEqual(cp01.profile.layout.reserved.map((r) => r.name), ['ceph']);
  assert.equal(offline.plan.nodes[0]!.diskBytes, 1e12);
  // worker04's NVMe device name belongs to its own board, not to a VM's virtio disk.
  assert.notEqual(offline.cluster.nodes[5]!.profile.disk.device, '/dev/nvme0n1');
});

test('lab up <nodes> boots those; every node still has its switch port for a later lab start', async () => {
  const { plan } = await lab('offline', ['cp01', 'worker01']);
  assert.deepEqual(plan.nodes.filter((n) => n.boots).map((n) => n.hostname), ['cp01', 'worker01']);
  assert.deepEqual(plan.switch.map((p) => p.name), [ROUTER, 'cp01', 'cp02', 'worker01', 'worker02', 'worker03', 'worker04']);
});

test('the switch hands a node only the frames for its MAC (none while it is off), floods broadcast and multicast, and gives the router the rest', () => {
  const ports = [{ name: ROUTER, port: 1, peer: 2, mac: null }, { name: 'a', port: 3, peer: 4, mac: '52:54:00:00:00:0a' }, { name: 'b', port: 5, peer: 6, mac: '52:54:00:00:00:0b' }];
  const frame = (dst: string): Buffer => Buffer.concat([Buffer.from(dst.replace(/:/g, ''), 'hex'), Buffer.from('525400000000' + '0800', 'hex'), Buffer.alloc(40)]);
  const to = (from: string, dst: string): string[] => forward(ports, from, frame(dst)).map((p) => p.name);
  assert.deepEqual(to('a', '52:54:00:00:00:0b'), ['b'], 'a node\'s traffic to another never reaches slirp, which would answer for it');
  assert.deepEqual(to(ROUTER, '52:54:00:00:00:0a'), ['a']);
  assert.deepEqual(to('a', 'ff:ff:ff:ff:ff:ff'), [ROUTER, 'b'], 'ARP and DHCP broadcasts');
  assert.deepEqual(to('b', '01:00:5e:00:00:12'), [ROUTER, 'a'], 'VRRP multicast (224.0.0.18)');
  assert.deepEqual(to('a', '52:55:0a:00:02:02'), [ROUTER], 'the gateway\'s MAC');
  assert.deepEqual(to('a', '52:54:00:00:00:0a'), [], 'never back where it came from');
  assert.deepEqual(forward(ports, 'a', Buffer.alloc(10)), [], 'a runt frame is dropped');
});

test('a LAN the lab cannot build is refused with the reason', async () => {
  const base = (await loadCluster(EXAMPLE)).config;
  const refused = (patch: (c: typeof base) => typeof base): string => {
    try {
      labNetwork(patch(base));
    } catch (e) {
      assert.ok(isImgforgeError(e) && e.code === 'Unsupported');
      return e.message;
    }
    return 'accepted';
  };
  assert.match(refused((c) => ({ ...c, nodes: c.nodes.map((n) => ({ ...n, address: 'dhcp' })) })), /DHCP-only/);
  assert.match(refused((c) => ({ ...c, nodes: c.nodes.map((n, i) => (i === 3 ? { ...n, address: '10.9.0.5/24' } : n)) })), /across subnets \(worker02 is not on cp01's 192\.168\.1\.0\/24\)/);
  assert.match(refused((c) => ({ ...c, network: { ...c.network, gateway: '10.0.0.1' } })), /gateway is not on the nodes' subnet/);
  assert.match(refused((c) => ({ ...c, nodes: c.nodes.map((n, i) => (i === 0 ? { ...n, address: '192.168.1.250/24' } : n)) })), /no room for QEMU's 16 DHCP leases/);
  // A resolver of its own on the LAN (a Pi-hole) stays the nodes' DNS: QEMU answers at that address.
  const own = labNetwork({ ...base, network: { ...base.network, dns: ['192.168.1.5'] } });
  assert.deepEqual([own.resolver, own.dns], ['192.168.1.5', null]);
});

const ev = (boot: string, stage: string, state: Event['state'], msg?: string): Event => ({ v: PROTOCOL_VERSION, node: 'n', boot, stage, state, time: 't', up: 1, ...(msg ? { msg } : {}) });

test('a node\'s progress is read off its events: the running stage, the last problem, the report of its latest boot', () => {
  assert.deepEqual(nodeProgress([]), { boots: 0, stage: null, state: null, reported: null, lastProblem: null, up: null });
  const first = [ev('a', 'bundle', 'ok'), ev('a', 'layout', 'begin'), ev('a', 'layout', 'ok'), ev('a', 'kubeadm-join', 'begin'), ev('a', 'kubeadm-join', 'retry', 'API not answering')];
  assert.deepEqual(nodeProgress(first), { boots: 1, stage: 'kubeadm-join', state: 'retry', reported: null, lastProblem: 'kubeadm-join retry: API not answering', up: 1 });
  const done = [...first, ev('a', 'kubeadm-join', 'ok'), { ...ev('a', 'report', 'note'), fact: 'x' }, ev('a', 'report', 'ok')];
  assert.equal(nodeProgress(done).reported, 'ok');
  const again = [...done, ev('b', 'bundle', 'ok'), ev('b', 'layout', 'begin')];
  assert.deepEqual([nodeProgress(again).boots, nodeProgress(again).stage, nodeProgress(again).reported, nodeProgress(again).lastProblem], [2, 'layout', null, null], 'a new boot starts over');
});
