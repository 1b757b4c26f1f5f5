// MetalLB announcing Service addresses over BGP to the LAN router, Longhorn on an ext4 data
// partition of each node's disk (users' post 003), ingress-nginx in front (post 002).
import { defineConfig } from 'imgforge';

const longhornData = {
  root: { size: '64GiB' },
  reserved: [{ name: 'longhorn', size: 'rest', format: 'ext4' as const, mountpoint: '/var/lib/longhorn' }],
};

export default defineConfig({
  cluster: {
    name: 'edge',
    kubernetesVersion: '1.35.3',
    podCidr: '10.42.0.0/16',
    serviceCidr: '10.43.0.0/16',
    controlPlaneEndpoint: { vip: '192.168.88.5', port: 6443, provider: 'kube-vip' },
    cni: { plugin: 'cilium', version: '1.19.3' },
    runtime: { name: 'containerd', version: '2.2' },
    schedulableControlPlanes: true,
    addons: {
      metallb: {
        version: '0.15.2',
        pools: [{ name: 'services', addresses: ['192.168.90.0/24'], mode: 'bgp' }],
        bgpPeers: [{ address: '192.168.88.1', asn: 65000, myAsn: 65010 }],
      },
      longhorn: { version: '1.9.1', partition: 'longhorn', replicas: 2 },
      ingressNginx: {},
    },
  },
  network: { gateway: '192.168.88.1', dns: ['192.168.88.1'], ntp: ['192.168.88.1'] },
  users: [{ name: 'ops', sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK2xExampleKeyForTheMetalLbExampleOnly00000003 ops@edge'] }],
  nodes: [
    { hostname: 'edge1', board: 'x86', role: 'control-plane', address: '192.168.88.11/24', mac: '52:54:00:88:00:11', layout: longhornData },
    { hostname: 'edge2', board: 'x86', role: 'control-plane', address: '192.168.88.12/24', mac: '52:54:00:88:00:12', layout: longhornData },
    { hostname: 'edge3', board: 'x86', role: 'control-plane', address: '192.168.88.13/24', mac: '52:54:00:88:00:13', layout: longhornData },
    { hostname: 'edge4', board: 'thin-client', role: 'worker', address: '192.168.88.21/24', mac: '52:54:00:88:00:21',
      layout: { root: { size: '24GiB' }, reserved: [{ name: 'longhorn', size: 'rest', format: 'ext4', mountpoint: '/var/lib/longhorn' }] } },
  ],
});
