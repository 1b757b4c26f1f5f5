// The seed's netplan v2 network-config: IPv6 router advertisements follow network.acceptRa, off by
// default (networkd waits 12 s at every boot for one on an IPv4-only LAN), and both forms pass
// cloud-init's own network-config validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadCluster } from '../../src/config/index.ts';
import { seedContext } from '../../src/plan/context.ts';
import { createEnvironment, renderTemplate } from '../../src/render/environment.ts';
import { loadTemplates } from '../../src/render/templates.ts';
import { writeFileSync } from 'node:fs';
import { ROOT, tempDir } from '../helpers.ts';
import { cloudInitSchema, hasCloudInit25 } from '../validators.ts';

const cluster = await loadCluster(join(ROOT, 'images.config.ts'));
const env = createEnvironment(await loadTemplates());
const ctx = seedContext(cluster, cluster.nodes.find((n) => n.config.hostname === 'cp01')!);

const render = (acceptRa: boolean): string => renderTemplate(env, 'seed/network-config.njk', { ...ctx, network: { ...ctx.network, acceptRa } });

function lan0(acceptRa: boolean): Record<string, unknown> {
  const text = render(acceptRa);
  return (parseYaml(text) as { network: { ethernets: Record<string, Record<string, unknown>> } }).network.ethernets['lan0']!;
}

test('router advertisements are off unless the config turns them on', () => {
  assert.equal(cluster.config.network.acceptRa, false, 'the default');
  assert.equal(lan0(false)['accept-ra'], false);
  assert.equal(lan0(true)['accept-ra'], true);
  assert.deepEqual(lan0(false)['addresses'], [ctx.node.address], 'the static address stays');
});

test('both forms pass cloud-init 25.1\'s network-config schema', { skip: !hasCloudInit25() && 'cloud-init 25.1 validator not fetched (scripts/setup-validators.sh)' }, () => {
  const dir = tempDir();
  const files = [false, true].map((on) => {
    const path = join(dir, `network-config-${on}`);
    writeFileSync(path, render(on));
    return { type: 'network-config' as const, path };
  });
  for (const r of cloudInitSchema(files)) assert.ok(r.ok, `${r.path}: ${r.error}`);
});
