// The home lab from our users' main write-up: two ODROID-M1 control planes behind a keepalived VIP,
// an etcd member on the x86 worker so etcd keeps quorum through any one failure (two stacked
// members alone survive none), mixed workers, Cilium with Gateway API, and half of each
// control-plane SSD left raw for Rook-Ceph.
import { defineConfig } from 'imgforge';

const admin = {
  name: 'ops',
  sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHd4n0ExampleKeyForTheBundledExampleOnly0001 ops@laptop'],
};

// Half of the 1 TB boot SSD for the OS, the rest raw for a Ceph OSD (Rook needs no filesystem on it).
const cephHalf = {
  root: { size: '50%' },
  reserved: [{ name: 'ceph', size: 'rest', format: 'raw' as const }],
};

export default defineConfig({
  cluster: {
    name: 'homelab',
    kubernetesVersion: '1.35.3',
    podCidr: '10.244.0.0/16',
    serviceCidr: '10.96.0.0/12',
    controlPlaneEndpoint: { vip: '192.168.1.10', port: 6443, dnsName: 'k8s.home.arpa', provider: 'keepalived' },
    cni: { plugin: 'cilium', version: '1.19.3', kubeProxyReplacement: true },
    runtime: { name: 'containerd', version: '2.2' },
    etcd: { topology: 'stacked' },
    addons: {
      gatewayApi: { version: '1.3.0' },
      rookCeph: { partition: 'ceph', replicas: 2 },
    },
  },
  network: {
    gateway: '192.168.1.1',
    dns: ['192.168.1.1'],
    searchDomains: ['home.arpa'],
    ntp: ['0.pool.ntp.org', '1.pool.ntp.org'],
  },
  users: [admin],
  nodes: [
    { hostname: 'cp01', board: 'odroid-m1', role: 'control-plane', address: '192.168.1.11/24', mac: '00:1e:06:48:00:01',
      disk: { size: '1TB' }, layout: cephHalf },
    { hostname: 'cp02', board: 'odroid-m1', role: 'control-plane', address: '192.168.1.12/24', mac: '00:1e:06:48:00:02',
      disk: { size: '1TB' }, layout: cephHalf },
    // The old i7-2600K desktop: a worker that also carries the third etcd member.
    { hostname: 'worker01', board: 'x86', role: 'worker', etcd: true, address: '192.168.1.21/24', mac: 'd0:50:99:00:00:21' },
    { hostname: 'worker02', board: 'odroid-m2', role: 'worker', address: '192.168.1.22/24', mac: '00:1e:06:49:00:22' },
    { hostname: 'worker03', board: 'thin-client', role: 'worker', address: '192.168.1.23/24', mac: '00:23:24:00:00:23',
      labels: { 'imgforge.dev/storage': 'usb' } },
    // The industrial mini-PC boots from its NVMe drive.
    { hostname: 'worker04', board: 'x86', role: 'worker', address: '192.168.1.24/24', mac: '00:e0:4c:00:00:24',
      disk: { device: '/dev/nvme0n1', media: 'nvme' } },
  ],
});
