// Three x86 control planes k8scp01..03 behind keepalived + HAProxy, Calico, workers k8s01..03
// (users' post 001). HAProxy runs on every control plane and takes port 8443, since the API
// server holds 6443 there (kubeadm ha-considerations.md).
import { defineConfig } from 'imgforge';

const cp = (n: number) => ({
  hostname: `k8scp0${n}`, board: 'x86', role: 'control-plane' as const,
  address: `10.10.0.1${n}/24`, mac: `52:54:00:10:00:1${n}`,
});
const worker = (n: number) => ({
  hostname: `k8s0${n}`, board: 'x86', role: 'worker' as const,
  address: `10.10.0.2${n}/24`, mac: `52:54:00:10:00:2${n}`,
});

export default defineConfig({
  cluster: {
    name: 'k8s',
    kubernetesVersion: '1.35.3',
    // Calico's default pool 192.168.0.0/16 overlaps most home LANs; pick one that does not.
    podCidr: '172.20.0.0/16',
    serviceCidr: '172.21.0.0/16',
    controlPlaneEndpoint: { vip: '10.10.0.10', port: 8443, dnsName: 'k8scp.lab.example', provider: 'keepalived+haproxy' },
    cni: { plugin: 'calico', version: '3.32.1' },
    runtime: { name: 'containerd', version: '2.2' },
    schedulableControlPlanes: false,
  },
  network: { gateway: '10.10.0.1', dns: ['10.10.0.1'], searchDomains: ['lab.example'] },
  users: [{ name: 'admin', sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq6ExampleKeyForTheK8scpExampleOnly00000002 admin@desk'] }],
  nodes: [cp(1), cp(2), cp(3), worker(1), worker(2), worker(3)],
});
