// Run `imgforge check --json` on the lab fixture after a change; the findings above notes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from '../helpers.ts';
import { labCluster, type Obj } from '../fixtures/lab-config.ts';

export interface Finding { id: string; severity: string; message: string; hint?: string; paths: string[] }

export async function findings(mutate: (c: Obj) => void): Promise<{ code: number; findings: Finding[] }> {
  const c = labCluster('ExampleKeyForCheckRuleTests');
  mutate(c);
  const file = join(tempDir('imgforge-rule-'), 'images.config.ts');
  writeFileSync(file, `export default ${JSON.stringify(c, null, 2)};\n`);
  const r = await cli(['--config', file, 'check', '--json']);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  const report = JSON.parse(r.stdout) as { findings: Finding[] };
  return { code: r.code, findings: report.findings.filter((f) => f.severity !== 'info') };
}
