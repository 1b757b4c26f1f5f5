import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cli, listFiles, requireTool, ROOT, tempDir } from '../helpers.ts';
import { ubuntuLikeBase } from '../fixtures/bases.ts';
import { startServer } from '../base/server.ts';

const sha = (path: string): string => execFileSync('sha256sum', [path], { encoding: 'utf8' }).split(' ')[0]!;

/** The minimal cluster with node n1's base pinned to a URL and hash, as a user would override it. */
function configWithBase(dir: string, url: string, sha256: string): string {
  const text = readFileSync(join(ROOT, 'test/fixtures/minimal.config.mjs'), 'utf8').replace(
    "mac: '52:54:00:50:00:11' }",
    `mac: '52:54:00:50:00:11', overrides: { base: { download: { url: ${JSON.stringify(url)}, sha256: ${JSON.stringify(sha256)}, format: 'raw' } } } }`);
  const file = join(dir, 'images.config.mjs');
  writeFileSync(file, text);
  return file;
}

test('build downloads the profile base, verifies it, caches it by hash, and reuses it', async () => {
  if (!['sgdisk', 'mkfs.fat', 'debugfs'].every(requireTool)) return;
  const dir = tempDir();
  const base = ubuntuLikeBase(dir, 240);
  const server = await startServer({ '/noble.img': { body: readFileSync(base), dropAfter: 5 * 2 ** 20 } });
  try {
    const config = configWithBase(dir, `${server.url}/noble.img`, sha(base));
    const cache = join(dir, 'cache');
    const r = await cli(['--config', config, 'build', 'n1', '--out', join(dir, 'out'), '--cache-dir', cache]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(server.requests.some((q) => q.range), 'the dropped download was resumed');
    assert.deepEqual(listFiles(join(cache, 'blobs')), [sha(base)]);
    const before = server.requests.length;
    const again = await cli(['--config', config, 'build', 'n1', '--out', join(dir, 'out2'), '--cache-dir', cache]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(server.requests.length, before, 'the second build uses the cache');
    assert.equal(sha(join(dir, 'out2/n1.img')), sha(join(dir, 'out/n1.img')));
  } finally {
    await server.close();
  }
});

test('a base with the wrong checksum: exit 2, no image, the cache keeps nothing of it', async () => {
  const dir = tempDir();
  const server = await startServer({ '/noble.img': { body: Buffer.alloc(2 ** 20, 1) } });
  try {
    const config = configWithBase(dir, `${server.url}/noble.img`, 'e'.repeat(64));
    const cache = join(dir, 'cache');
    const r = await cli(['--config', config, 'build', 'n1', '--out', join(dir, 'out'), '--cache-dir', cache]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /Checksum mismatch: .*noble\.img has SHA-256 [0-9a-f]{64}, expected e{64}/);
    assert.ok(!existsSync(join(dir, 'out')) || listFiles(join(dir, 'out')).length === 0);
    assert.deepEqual(listFiles(cache), []);
  } finally {
    await server.close();
  }
});

test('an unverifiable base is refused without --allow-unverified, with a hint', async () => {
  // Hardkernel's image (the M1's Hardkernel profile; --force past check's refusal of its base for Kubernetes 1.35).
  const dir = tempDir();
  const config = join(dir, 'images.config.ts');
  writeFileSync(config, `import base from ${JSON.stringify(join(ROOT, 'images.config.ts'))};
export default { ...base, nodes: base.nodes.map((n) => n.board === 'odroid-m1' ? { ...n, board: 'odroid-m1-hardkernel' } : n) };\n`);
  const r = await cli(['--config', config, 'build', 'cp01', '--force', '--out', join(dir, 'out'), '--cache-dir', tempDir()]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /Base image cannot be verified: .*ODROID-M1.*Hardkernel publishes no SHA256SUMS/);
  assert.match(r.stderr, /--allow-unverified/);
});

test('--compress zstd and xz add a copy that decompresses to the image', async () => {
  if (!['sgdisk', 'mkfs.fat', 'debugfs', 'xz', 'zstd'].every(requireTool)) return;
  const dir = tempDir();
  const base = ubuntuLikeBase(dir, 240);
  for (const kind of ['zstd', 'xz'] as const) {
    const out = join(dir, `out-${kind}`);
    const r = await cli(['--config', join(ROOT, 'test/fixtures/minimal.config.mjs'), 'build', 'n1', '--base', base, '--out', out, '--cache-dir', join(dir, 'cache'), '--compress', kind]);
    assert.equal(r.code, 0, r.stderr);
    const packed = join(out, `n1.img.${kind === 'zstd' ? 'zst' : 'xz'}`);
    const back = join(dir, `back-${kind}.img`);
    execFileSync('sh', ['-c', `${kind} -d -c "$1" > "$2"`, 'sh', packed, back]);
    assert.equal(sha(back), sha(join(out, 'n1.img')));
  }
});

test('Ctrl-C during a build leaves nothing under a final name and no temporary files', async () => {
  if (!['sgdisk', 'mkfs.fat', 'debugfs'].every(requireTool)) return;
  const dir = tempDir();
  const base = ubuntuLikeBase(dir);
  const out = join(dir, 'out');
  const child = spawn(process.execPath, [join(ROOT, 'bin/imgforge.js'), '--config', join(ROOT, 'test/fixtures/minimal.config.mjs'),
    'build', 'n1', 'n2', 'n3', '--base', base, '--out', out, '--cache-dir', join(dir, 'cache')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (/n2: assemble/.test(stderr)) { child.kill('SIGINT'); resolve(); }
  }));
  assert.equal(await exited, 130);
  const left = listFiles(out);
  assert.ok(left.every((f) => f.startsWith('n1')), `only the finished node's files remain: ${left.join(', ')}`);
  assert.ok(!left.some((f) => f.includes('.tmp-')), 'no temporary files');
  assert.deepEqual(left.sort(), ['n1.img', 'n1.img.bmap', 'n1.img.sha256', 'n1.manifest.json']);
});

test('kill -9 leaves a work folder behind; the next build into that folder removes it, and two builds at once each keep their own', async () => {
  if (!['sgdisk', 'mkfs.fat', 'debugfs'].every(requireTool)) return;
  const dir = tempDir();
  const base = ubuntuLikeBase(dir, 240);
  const out = join(dir, 'out');
  const args = ['--config', join(ROOT, 'test/fixtures/minimal.config.mjs'), 'build', '--base', base, '--out', out, '--cache-dir', join(dir, 'cache')];
  const child = spawn(process.execPath, [join(ROOT, 'bin/imgforge.js'), ...args, 'n1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let stderr = '';
  await new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); if (/n1: assemble/.test(stderr)) { child.kill('SIGKILL'); resolve(); } }));
  await exited;
  assert.deepEqual(readdirSync(out), [`.imgforge-build-${child.pid}`], 'kill -9 runs no handler');
  const [a, b] = await Promise.all([1, 2].map(() => new Promise<number | null>((resolve) => {
    spawn(process.execPath, [join(ROOT, 'bin/imgforge.js'), ...args, 'n2'], { stdio: 'ignore' }).on('exit', resolve);
  })));
  assert.deepEqual([a, b], [0, 0]);
  assert.deepEqual(readdirSync(out).sort(), ['n2.img', 'n2.img.bmap', 'n2.img.sha256', 'n2.manifest.json'], 'the dead build\'s folder is gone, the live ones cleaned up after themselves');
});

test('an image that fails its own checks is exit 7 ("image assembly"), with nothing under a final name', async () => {
  if (!['sgdisk', 'mkfs.fat', 'debugfs'].every(requireTool)) return;
  const dir = tempDir();
  const base = ubuntuLikeBase(dir, 240);
  // An e2fsck that finds the root file system damaged, as it would a base damaged by the assembly.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'e2fsck'), '#!/bin/sh\necho "root: Inode 12 has illegal blocks." >&2\nexit 4\n', { mode: 0o755 });
  const old = process.env['PATH'];
  process.env['PATH'] = `${bin}:${old}`;
  try {
    const r = await cli(['--config', join(ROOT, 'test/fixtures/minimal.config.mjs'), 'build', 'n1', '--base', base, '--out', join(dir, 'out'), '--cache-dir', join(dir, 'cache')]);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /The image failed its own checks: .*n1\.img was assembled but e2fsck -fn on root found problems: e2fsck exited with status 4: root: Inode 12 has illegal blocks\./);
    assert.deepEqual(listFiles(join(dir, 'out')), []);
  } finally {
    process.env['PATH'] = old;
  }
});

test('a local --base is hashed once while unchanged, and again as soon as it changes', async () => {
  if (!['sgdisk', 'mkfs.fat', 'debugfs'].every(requireTool)) return;
  const dir = tempDir();
  const base = ubuntuLikeBase(dir, 240);
  const cache = join(dir, 'cache');
  const build = async (out: string): Promise<{ base: { sha256: string } }> => {
    const r = await cli(['--config', join(ROOT, 'test/fixtures/minimal.config.mjs'), 'build', 'n1', '--base', base, '--out', join(dir, out), '--cache-dir', cache]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(readFileSync(join(dir, out, 'n1.manifest.json'), 'utf8')) as { base: { sha256: string } };
  };
  const first = await build('a');
  assert.equal(first.base.sha256, sha(base));
  assert.equal(listFiles(join(cache, 'local')).length, 1, 'the hash is remembered');
  // Change the file in place (same path, same size): a byte at the very end of the root partition.
  execFileSync('sh', ['-c', `printf Z | dd of="$1" bs=1 seek=$((200 * 1024 * 1024)) conv=notrunc 2>/dev/null`, 'sh', base]);
  const second = await build('b');
  assert.notEqual(second.base.sha256, first.base.sha256);
  assert.equal(second.base.sha256, sha(base), 'the manifest names the file as it is now');
});
