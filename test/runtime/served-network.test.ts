// served-network: a node seeded over the network gets its seed's network-config as a CIDATA node
// does (cloud-init does not fetch it over HTTP): into /etc/netplan, applied once, cloud-init's
// fallback removed and its network configuration turned off. Nothing for a node seeded from CIDATA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LIB, Rig } from './rig.ts';

const NETWORK = 'network:\n  version: 2\n  ethernets:\n    lan0:\n      match:\n        macaddress: "52:54:00:12:34:57"\n      addresses:\n        - "10.0.2.16/24"\n';
const FALLBACK = 'network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n';

// What cloud-init writes for the datasource that gave it the seed (cloudinit/stages.py _reflect_cur_instance).
const NET = 'DataSourceNoCloudNet: DataSourceNoCloudNet [seed=https://seed.lan:8443/by-mac/52:54:00:12:34:57/][dsmode=net]';
const LOCAL = 'DataSourceNoCloud: DataSourceNoCloud [seed=/dev/vda2][dsmode=net]';

function rig(datasource: string): Rig {
  const r = new Rig();
  r.write('var/lib/cloud/instance/datasource', `${datasource}\n`);
  r.write('etc/imgforge/network-config.yaml', NETWORK);
  r.write('etc/netplan/50-cloud-init.yaml', FALLBACK);
  return r;
}
const run = (r: Rig) => r.run(['sh', join(LIB, 'served-network')]);

test('seeded over the network (NoCloudNet): the seed\'s netplan in place (0600) and applied, the DHCP fallback gone, cloud-init kept off the network; once', () => {
  const r = rig(NET);
  assert.equal(run(r).status, 0);
  assert.equal(r.read('etc/netplan/90-imgforge.yaml'), NETWORK);
  assert.equal(statSync(r.path('etc/netplan/90-imgforge.yaml')).mode & 0o777, 0o600);
  assert.equal(r.read('.fake/netplan-applied'), NETWORK, 'netplan apply ran with it in place');
  assert.equal(existsSync(r.path('etc/netplan/50-cloud-init.yaml')), false);
  assert.match(r.read('etc/cloud/cloud.cfg.d/99-imgforge-network.cfg'), /^network: \{config: disabled\}$/m);
  assert.match(r.read('var/lib/imgforge/events.jsonl'), /applied the node's network configuration from its seed/);
  assert.equal(run(r).status, 0);
  assert.equal(r.calls('netplan').length, 1, 'a later boot finds it done');
});

test('seeded from CIDATA (NoCloud, also with the bundle from a URL): nothing changes, cloud-init applied the network-config there', () => {
  const cidata = rig(LOCAL);
  assert.equal(run(cidata).status, 0);
  assert.equal(existsSync(cidata.path('etc/netplan/90-imgforge.yaml')), false);
  assert.equal(cidata.read('etc/netplan/50-cloud-init.yaml'), FALLBACK);
  assert.equal(cidata.calls('netplan').length, 0);
  const unknown = new Rig();
  unknown.write('etc/imgforge/network-config.yaml', NETWORK);
  assert.equal(run(unknown).status, 0);
  assert.equal(unknown.calls('netplan').length, 0, 'no record of the datasource: left alone');
});
