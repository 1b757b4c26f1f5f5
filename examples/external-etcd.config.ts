// External etcd on three dedicated nodes and two control planes (users' post 004, which runs CRI-O;
// the nodes install containerd when they assemble the cluster themselves).
// The control planes hold no etcd data, so two of them are enough for the API; etcd's three
// members keep quorum through one failure.
import { defineConfig } from 'imgforge';

export default defineConfig({
  cluster: {
    name: 'prod-lab',
    kubernetesVersion: '1.35.3',
    podCidr: '10.244.0.0/16',
    serviceCidr: '10.96.0.0/12',
    controlPlaneEndpoint: { vip: '172.16.5.10', port: 6443, dnsName: 'api.prod-lab.internal', provider: 'keepalived' },
    cni: { plugin: 'cilium', version: '1.19.3' },
    runtime: { name: 'containerd', version: '2.2' },
    etcd: { topology: 'external' },
  },
  network: { gateway: '172.16.5.1', dns: ['172.16.5.1'], searchDomains: ['prod-lab.internal'] },
  users: [{ name: 'ops', sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM3yExampleKeyForTheEtcdExampleOnly0000000004 ops@bastion'], sudo: true }],
  nodes: [
    { hostname: 'etcd1', board: 'x86', role: 'etcd', address: '172.16.5.21/24', mac: '52:54:00:05:00:21' },
    { hostname: 'etcd2', board: 'x86', role: 'etcd', address: '172.16.5.22/24', mac: '52:54:00:05:00:22' },
    { hostname: 'etcd3', board: 'odroid-m1', role: 'etcd', address: '172.16.5.23/24', mac: '00:1e:06:48:05:23' },
    { hostname: 'cp1', board: 'x86', role: 'control-plane', address: '172.16.5.11/24', mac: '52:54:00:05:00:11' },
    { hostname: 'cp2', board: 'x86', role: 'control-plane', address: '172.16.5.12/24', mac: '52:54:00:05:00:12' },
    { hostname: 'w1', board: 'odroid-m2', role: 'worker', address: '172.16.5.31/24', mac: '00:1e:06:49:05:31' },
    { hostname: 'w2', board: 'x86', role: 'worker', address: '172.16.5.32/24', mac: '52:54:00:05:00:32' },
  ],
});
