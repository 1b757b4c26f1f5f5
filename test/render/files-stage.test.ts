// The bootcmd stage "files" writes every file the node relies on, under IMGFORGE_ROOT here, run for
// real under sh exactly as the seed carries it: each file byte for byte with its mode, nothing
// rewritten on a second run, a file a power cut left empty rewritten on the next boot, and
// nothing touched once the first boot has completed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadCluster } from '../../src/config/index.ts';
import { seedContext } from '../../src/plan/context.ts';
import { planCluster } from '../../src/plan/index.ts';
import { writtenFiles } from '../../src/plan/seed.ts';
import { createEnvironment, renderTemplate } from '../../src/render/environment.ts';
import { loadTemplates } from '../../src/render/templates.ts';
import { listFiles, ROOT, tempDir } from '../helpers.ts';

const cluster = await loadCluster(join(ROOT, 'images.config.ts'));
const { seeds } = planCluster(cluster, ['cp01'], await loadTemplates(), 'test');
const userData = seeds.get('cp01')!.find((f) => f.name === 'user-data')!.content;
const bootcmd = (parseYaml(userData) as { bootcmd: (string | string[])[] }).bootcmd;
const item = bootcmd.find((c): c is string => typeof c === 'string' && c.startsWith('sh -s imgforge-files '))!;

/** Run the bootcmd item as cloud-init would (a line of its bootcmd script run by sh). */
function runFiles(root: string): void {
  const r = spawnSync('sh', ['-c', item], { encoding: 'utf8', env: { PATH: process.env['PATH'], IMGFORGE_ROOT: root } });
  assert.equal(r.status, 0, r.stderr);
}

const env = createEnvironment(await loadTemplates());
const ctx = seedContext(cluster, cluster.nodes.find((n) => n.config.hostname === 'cp01')!);
/** Each file as the plan renders it. */
const RENDERED = new Map(writtenFiles().map((f) => [f.path, renderTemplate(env, f.template, ctx)]));
const EXPECTED = [...RENDERED.keys()];

test('the files stage reaches sh on stdin, first in bootcmd, and user-data has no write_files', () => {
  assert.ok(item, 'a bootcmd string item runs sh -s imgforge-files');
  assert.equal(bootcmd[0], item);
  assert.equal((parseYaml(userData) as Record<string, unknown>)['write_files'], undefined);
  assert.match(item, /^sh -s imgforge-files <<'IMGFORGE_STAGE_END'\n#!\/bin\/sh\n[^]*\nIMGFORGE_STAGE_END\n$/);
});

test('it writes every file exactly, with its mode, and a second run rewrites nothing', () => {
  const root = tempDir();
  runFiles(root);
  assert.deepEqual(listFiles(root), EXPECTED.map((p) => p.slice(1)).sort());
  assert.ok(EXPECTED.includes('/usr/local/lib/imgforge/stages/prepare.sh') && EXPECTED.includes('/etc/hosts'));
  for (const p of EXPECTED) {
    assert.equal(readFileSync(join(root, p), 'utf8'), RENDERED.get(p), p);
    const mode = statSync(join(root, p)).mode & 0o777;
    assert.equal(mode, p.startsWith('/usr/local/') ? 0o755 : 0o644, p);
  }
  assert.match(readFileSync(join(root, 'usr/local/sbin/imgforge-stage'), 'utf8'), /^#!\/bin\/sh\n/);
  // Files are private until chmod; the directories made for them are not.
  for (const d of ['etc/imgforge', 'usr/local/lib/imgforge/stages', 'etc/systemd/journald.conf.d']) assert.equal(statSync(join(root, d)).mode & 0o777, 0o755, d);
  const before = new Map(EXPECTED.map((p) => [p, statSync(join(root, p)).ino]));
  runFiles(root);
  for (const p of EXPECTED) assert.equal(statSync(join(root, p)).ino, before.get(p), `${p} was rewritten though unchanged`);
});

test('a file a power cut left empty or stale is rewritten; after the first boot nothing is touched', () => {
  const root = tempDir();
  runFiles(root);
  const stage = join(root, 'usr/local/lib/imgforge/stages/prepare.sh');
  const good = readFileSync(stage, 'utf8');
  truncateSync(stage, 0);
  writeFileSync(join(root, 'etc/hosts'), 'stale\n');
  runFiles(root);
  assert.equal(readFileSync(stage, 'utf8'), good);
  assert.notEqual(readFileSync(join(root, 'etc/hosts'), 'utf8'), 'stale\n');
  mkdirSync(join(root, 'var/lib/imgforge'), { recursive: true });
  writeFileSync(join(root, 'var/lib/imgforge/first-boot.done'), '');
  writeFileSync(join(root, 'etc/hosts'), 'edited by the operator\n');
  runFiles(root);
  assert.equal(readFileSync(join(root, 'etc/hosts'), 'utf8'), 'edited by the operator\n');
});
