// Check rules for what self-assembly cannot do: each with a config that fails and one that passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from '../helpers.ts';
import { labCluster, obj, worker, type Obj } from '../fixtures/lab-config.ts';

interface Finding { id: string; severity: string; message: string; hint?: string; paths: string[] }

async function findings(mutate: (c: Obj) => void): Promise<{ code: number; findings: Finding[] }> {
  const c = labCluster('ExampleKeyForAssemblyChecks');
  mutate(c);
  const file = join(tempDir('imgforge-assembly-'), 'images.config.ts');
  writeFileSync(file, `export default ${JSON.stringify(c, null, 2)};\n`);
  const r = await cli(['--config', file, 'check', '--json']);
  const report = JSON.parse(r.stdout) as { findings: Finding[] };
  return { code: r.code, findings: report.findings.filter((f) => f.severity !== 'info') };
}

test('leader-not-control-plane: cluster.leader must name a control plane; naming one passes', async () => {
  const bad = await findings((c) => { (c['nodes'] as Obj[]).push(worker(1)); obj(c['cluster'])['leader'] = 'w01'; });
  assert.equal(bad.code, 1);
  assert.deepEqual(bad.findings.map((f) => f.id), ['leader-not-control-plane']);
  assert.equal(bad.findings[0]!.message, 'cluster.leader names w01, a node of role "worker": only a control plane can run kubeadm init.');
  assert.deepEqual(bad.findings[0]!.paths, ['cluster.leader']);
  const missing = await findings((c) => { obj(c['cluster'])['leader'] = 'cp09'; });
  assert.equal(missing.findings[0]!.message, 'cluster.leader names cp09, which is not a node of this config.');
  const good = await findings((c) => { obj(c['cluster'])['leader'] = 'cp02'; });
  assert.deepEqual(good, { code: 0, findings: [] });
});
