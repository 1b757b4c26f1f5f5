// Errors that point at what the user gave: their file (not the cache's copy), a directory, a file
// that is not an image, a host that cannot be reached; counted words; findings in --json errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { download } from '../../src/base/download.ts';
import { isImgforgeError } from '../../src/errors/error.ts';
import { cli, listFiles, ROOT, tempDir } from '../helpers.ts';

const CONFIG = join(ROOT, 'images.config.ts');

test('build --base with a file that is not an image names that file and leaves nothing in the cache; a directory is said to be one', async () => {
  const dir = tempDir();
  const file = join(dir, 'base.img');
  writeFileSync(file, 'not an image at all\n');
  const cache = join(dir, 'cache');
  const r = await cli(['--config', CONFIG, 'build', 'worker01', '--base', file, '--out', join(dir, 'out'), '--cache-dir', cache]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`^The base image is not usable: ${file.replaceAll('.', '\\.')}: it has no partition table`, 'm'));
  assert.deepEqual(listFiles(cache), [], 'nothing of it stays in the cache');
  const d = await cli(['--config', CONFIG, 'build', 'worker01', '--base', dir, '--out', join(dir, 'out2'), '--cache-dir', cache]);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /: it is a directory; --base takes an image file/);
});

test('inspect of a file that is not an image speaks of that file, not of board profiles', async () => {
  const file = join(tempDir(), 'notes.txt');
  writeFileSync(file, 'hello\n');
  const r = await cli(['inspect', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`^Not a disk image: ${file.replaceAll('.', '\\.')} is not a disk image: it has no partition table`));
  assert.doesNotMatch(r.stderr, /profile/);
});

test('a host that cannot be reached: said so, nothing downloaded, --base or a mirror suggested', async () => {
  const dest = join(tempDir(), 'base.img');
  await assert.rejects(download('http://127.0.0.1:1/base.img', dest, { retries: 0 }), (e: unknown) => {
    assert.ok(isImgforgeError(e));
    assert.equal(e.code, 'DownloadUnreachable');
    assert.match(e.message, /^http:\/\/127\.0\.0\.1:1\/base\.img: 127\.0\.0\.1:1 cannot be reached from here \(ECONNREFUSED\); nothing was downloaded\.$/);
    assert.match(e.hint!, /--base <file>/);
    return true;
  });
  assert.deepEqual(readdirSync(join(dest, '..')).filter((f) => f !== '.'), [], 'no partial file');
});

test('counts are worded right, and a refused plan --json carries the findings', async () => {
  const dir = tempDir();
  const config = join(dir, 'one.config.mjs');
  writeFileSync(config, `export default {
  cluster: { name: 'one', kubernetesVersion: '1.35.3', controlPlaneEndpoint: { vip: '192.168.50.11' }, cni: { plugin: 'cilium' }, schedulableControlPlanes: true },
  network: { gateway: '192.168.50.1' },
  users: [{ name: 'ops', sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOneKeyOneKeyOneKeyOneKeyOneKeyOneKeyOneKey0000 ops@t'] }],
  nodes: [{ hostname: 'n1', board: 'x86', role: 'control-plane', address: '192.168.50.11/24' }],
};\n`);
  const check = await cli(['--config', config, 'check']);
  assert.equal(check.code, 1);
  assert.match(check.stdout, /^failed: 1 node, 1 error, 2 warnings$/m);
  const plan = await cli(['--config', config, 'plan', '--json']);
  assert.equal(plan.code, 1);
  const err = JSON.parse(plan.stdout).error as { code: string; findings: { id: string; severity: string }[]; details: string[] };
  assert.equal(err.code, 'Findings');
  assert.ok(err.findings.some((f) => f.id === 'vip-is-node' && f.severity === 'error'));
  assert.ok(err.details.some((d) => d.startsWith('vip-is-node: ')));
  assert.ok(!existsSync(join(dir, 'dist')));
});
