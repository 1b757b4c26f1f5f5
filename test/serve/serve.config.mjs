// The seed server's test cluster, without importing imgforge: a control plane found by its MAC,
// SMBIOS serial and UUID, a worker by its MAC alone, an etcd-less worker by its hostname alone.
export default {
  cluster: {
    name: 'seedtest',
    kubernetesVersion: '1.35.3',
    controlPlaneEndpoint: { vip: '192.168.60.10' },
    cni: { plugin: 'cilium' },
    schedulableControlPlanes: true,
  },
  network: { gateway: '192.168.60.1', dns: ['192.168.60.1'] },
  users: [{ name: 'ops', sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFixtureKeyFixtureKeyFixtureKeyFixtureKey0000 ops@test'] }],
  nodes: [
    { hostname: 'cp1', board: 'x86', role: 'control-plane', address: '192.168.60.11/24', mac: '52:54:00:60:00:11',
      serial: 'SN-CP1-0001', uuid: '4C4C4544-0042-3510-8052-B4C04F4E3231' },
    { hostname: 'w1', board: 'x86', role: 'worker', address: '192.168.60.21/24', mac: '52:54:00:60:0a:2b' },
    { hostname: 'w2', board: 'x86', role: 'worker', address: '192.168.60.22/24' },
  ],
  profileDirs: [],
};
