import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync, truncateSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, listFiles, requireTool, ROOT, tempDir } from '../helpers.ts';
import { hardkernelLikeBase, ubuntuLikeBase } from '../fixtures/bases.ts';
import { extCat, partitions, partNamed, readRange, run, sha, tools, type Part } from './image-read.ts';
import { ensureSpace } from '../../src/execute/image/outputs.ts';

const MINIMAL = join(ROOT, 'test/fixtures/minimal.config.mjs');
describe('build from an Ubuntu-cloud-image-shaped base (GPT)', { concurrency: false }, () => {
  let dir = '', base = '', out = '';
  before(async () => {
    if (!tools.every(requireTool)) return;
    dir = tempDir();
    base = ubuntuLikeBase(dir);
    out = join(dir, 'out');
    const r = await cli(['--config', MINIMAL, 'build', 'n1', '--base', base, '--out', out, '--cache-dir', join(dir, 'cache'), '--json']);
    assert.equal(r.code, 0, r.stderr);
  });

  test('writes the image, bmap, checksum and manifest, 0600, nothing else', { skip: !tools.every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0) && !process.env['CI'] }, () => {
    assert.deepEqual(listFiles(out), ['n1.img', 'n1.img.bmap', 'n1.img.sha256', 'n1.manifest.json']);
    for (const f of listFiles(out)) assert.equal(statSync(join(out, f)).mode & 0o777, 0o600, f);
    assert.equal(readFileSync(join(out, 'n1.img.sha256'), 'utf8'), `${sha(join(out, 'n1.img'))}  n1.img\n`);
    const m = JSON.parse(readFileSync(join(out, 'n1.manifest.json'), 'utf8')) as { node: string; profile: string; base: { sha256: string }; seed: { instanceId: string }; image: { sha256: string }; imgforge: string };
    assert.equal(m.node, 'n1');
    assert.equal(m.profile, 'x86');
    assert.equal(m.base.sha256, sha(base));
    assert.equal(m.image.sha256, sha(join(out, 'n1.img')));
    assert.match(m.seed.instanceId, /^iid-n1-[0-9a-f]{16}$/);
  });

  test('plan --base prints the table build wrote: the same partitions, sectors and GUIDs as the manifest and the disk', async () => {
    const r = await cli(['--config', MINIMAL, 'plan', 'n1', '--base', base, '--cache-dir', join(dir, 'cache'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    const planned = (JSON.parse(r.stdout) as { nodes: { image: { base: { sha256: string }; table: { partitions: { number: number; firstLba: number; lastLba: number; guid: string }[] } } }[] }).nodes[0]!.image;
    const m = JSON.parse(readFileSync(join(out, 'n1.manifest.json'), 'utf8')) as { image: Record<string, unknown>; base: { sha256: string } };
    const { sha256: _s, mappedBytes: _m, ...table } = m.image;
    assert.deepEqual(planned.table, table);
    assert.equal(planned.base.sha256, m.base.sha256);
    const onDisk = partitions(join(out, 'n1.img'));
    assert.deepEqual(planned.table.partitions.map((p) => [p.firstLba, p.lastLba, p.guid.toUpperCase()]), onDisk.sort((a, b) => a.start - b.start).map((p) => [p.start, p.start + p.size - 1, p.uuid.toUpperCase()]));
    // Without the base at hand, plan says so instead of guessing.
    const none = await cli(['--config', MINIMAL, 'plan', 'n1', '--cache-dir', join(dir, 'empty-cache')]);
    assert.match(none.stdout, /image: its base is not in the cache yet/);
  });

  test('passes sgdisk -v, fsck.fat -n on CIDATA and e2fsck -fn on root', () => {
    const img = join(out, 'n1.img');
    assert.match(run('sgdisk', ['-v', img]), /No problems found/);
    const cidata = partNamed(img, 'cidata');
    const fat = join(dir, 'cidata.fat');
    execFileSync('dd', [`if=${img}`, `of=${fat}`, 'bs=512', `skip=${cidata.start}`, `count=${cidata.size}`], { stdio: 'pipe' });
    run('fsck.fat', ['-n', fat]);
    assert.match(spawnSync('blkid', ['-p', fat], { encoding: 'utf8' }).stdout, /LABEL="CIDATA"/);
    const root = partitions(img).find((p) => p.node.endsWith('img1'))!;
    run('e2fsck', ['-fn', `${img}?offset=${root.start * 512}`]);
  });

  test('keeps the base partitions where they were, by number, with root last and CIDATA before it', () => {
    const img = join(out, 'n1.img');
    const parts = partitions(img);
    const byNum = (n: number): Part => parts.find((p) => p.node === `${img}${n}`)!;
    assert.deepEqual([byNum(14).start, byNum(15).start, byNum(16).start], [2048, 10240, 227328]);
    assert.ok(byNum(2).start > byNum(16).start && byNum(1).start > byNum(2).start, 'CIDATA after /boot, root last');
    const baseRoot = partitions(base).find((p) => p.node.endsWith('img1'))!;
    assert.equal(byNum(1).size, baseRoot.size);
    const grub = (f: string, start: number): string => createHash('sha256').update(readRange(f, start * 512, 4 * 2 ** 20)).digest('hex');
    assert.equal(grub(img, 2048), grub(base, 2048), 'the BIOS boot partition (GRUB core) is copied byte for byte');
    assert.deepEqual(readRange(img, 0, 440), readRange(base, 0, 440), 'the MBR boot code (GRUB boot.img) is kept for legacy BIOS');
    assert.ok(readRange(base, 0, 440).every((b) => b === 0xeb));
  });

  test('root is unchanged except the declared edits; the seed on CIDATA equals render', async () => {
    const img = join(out, 'n1.img');
    const root = partitions(img).find((p) => p.node.endsWith('img1'))!.start * 512;
    const baseRoot = partitions(base).find((p) => p.node.endsWith('img1'))!.start * 512;
    for (const f of ['/etc/hostname', '/etc/os-release', '/etc/fstab', '/usr/bin/tool', '/var/lib/data.bin']) {
      assert.equal(extCat(img, root, f), extCat(base, baseRoot, f), f);
    }
    assert.equal(extCat(base, baseRoot, '/etc/machine-id').length, 33);
    assert.equal(extCat(img, root, '/etc/machine-id'), '', 'machine-id is emptied so every clone generates its own');
    const seedDir = join(dir, 'seed');
    assert.equal((await cli(['--config', MINIMAL, 'render', 'n1', '--out', seedDir])).code, 0);
    const cidata = partNamed(img, 'cidata').start * 512;
    for (const f of ['user-data', 'meta-data', 'network-config', 'vendor-data']) {
      const onImage = spawnSync('mtype', ['-i', `${img}@@${cidata}`, `::${f}`], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } }).stdout;
      assert.equal(onImage, readFileSync(join(seedDir, f), 'utf8'), f);
    }
  });

  test('bmaptool copy of the image gives the same SHA-256; the image stays sparse', () => {
    const img = join(out, 'n1.img');
    const copy = join(dir, 'copy.img');
    run('bmaptool', ['copy', '--bmap', `${img}.bmap`, img, copy]);
    assert.equal(sha(copy), sha(img));
    const st = statSync(img);
    assert.ok(st.blocks * 512 < st.size / 4, `allocated ${st.blocks * 512} of ${st.size}`);
  });

  test('two builds of the same inputs are byte-identical, bmap included', async () => {
    const out2 = join(dir, 'out2');
    const r = await cli(['--config', MINIMAL, 'build', 'n1', '--base', base, '--out', out2, '--cache-dir', join(dir, 'cache')]);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ['n1.img', 'n1.img.bmap', 'n1.img.sha256', 'n1.manifest.json']) assert.equal(sha(join(out2, f)), sha(join(out, f)), f);
  });

  test('inspect shows the partitions, the seed and the manifest, and verifies; a changed byte fails it', async () => {
    const img = join(out, 'n1.img');
    const r = await cli(['inspect', img, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const i = JSON.parse(r.stdout) as { verified: boolean; table: string; seed: { instanceId: string; files: { name: string }[] }; partitions: { label: string }[]; manifest: { node: string } };
    assert.equal(i.verified, true);
    assert.equal(i.table, 'gpt');
    assert.deepEqual(i.seed.files.map((f) => f.name), ['user-data', 'meta-data', 'network-config', 'vendor-data']);
    assert.ok(i.partitions.some((p) => p.label === 'cloudimg-rootfs'));
    assert.equal(i.manifest.node, 'n1');
    const b = (i as unknown as { bundle: { verified: boolean; sha256: string; pinned: { sha256: string } } }).bundle;
    assert.ok(b.verified && b.sha256 === b.pinned.sha256, 'the bundle on CIDATA is the one user-data pins');
    // A bundle swapped on CIDATA: inspect says the node would refuse it.
    const swapped = join(dir, 'swapped');
    execFileSync('mkdir', ['-p', swapped]);
    copyFileSync(join(out, 'n1.img'), join(swapped, 'n1.img'));
    const cidata = partNamed(join(swapped, 'n1.img'), 'cidata');
    writeFileSync(join(dir, 'imgforge-bundle.tar'), Buffer.alloc(10240));
    execFileSync('mcopy', ['-o', '-i', `${join(swapped, 'n1.img')}@@${cidata.start * 512}`, join(dir, 'imgforge-bundle.tar'), '::imgforge-bundle.tar'], { env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    const r3 = await cli(['inspect', join(swapped, 'n1.img')]);
    assert.equal(r3.code, 1);
    assert.match(r3.stdout, /bundle: 10240 bytes, SHA-256 [0-9a-f]{64}: DOES NOT match user-data/);
    assert.match(r3.stdout, /the node would refuse it/);
    const bad = join(dir, 'bad');
    execFileSync('mkdir', ['-p', bad]);
    for (const f of ['n1.img', 'n1.img.sha256', 'n1.img.bmap']) copyFileSync(join(out, f), join(bad, f));
    const fd = spawnSync('dd', ['of=' + join(bad, 'n1.img'), 'bs=1', 'seek=' + (300 * 2 ** 20), 'conv=notrunc'], { input: 'x' });
    assert.equal(fd.status, 0);
    const r2 = await cli(['inspect', join(bad, 'n1.img')]);
    assert.equal(r2.code, 1);
    assert.match(r2.stdout, /sha256: mismatch/);
  });
});

describe('bad bases: a clear error, exit >= 2, nothing under a final name, the cache intact', () => {
  const build = async (base: string, dir: string): Promise<{ code: number; stderr: string }> =>
    cli(['--config', MINIMAL, 'build', 'n1', '--base', base, '--out', join(dir, 'out'), '--cache-dir', join(dir, 'cache')]);

  test('no partition table', async () => {
    const dir = tempDir();
    const f = join(dir, 'blank.img');
    writeFileSync(f, '');
    truncateSync(f, 8 * 2 ** 20);
    const r = await build(f, dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /has no partition table/);
    assert.deepEqual(listFiles(join(dir, 'out')), []);
  });

  test('a truncated base (a partition past the end)', async () => {
    if (!tools.every(requireTool)) return;
    const dir = tempDir();
    const base = ubuntuLikeBase(dir);
    const cut = join(dir, 'cut.img');
    copyFileSync(base, cut);
    truncateSync(cut, 300 * 2 ** 20);
    const r = await build(cut, dir);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /partition 1 ends at byte \d+, past the end of the \d+-byte file \(truncated\?\)/);
    assert.deepEqual(listFiles(join(dir, 'out')), []);
    assert.deepEqual(listFiles(join(dir, 'cache')).filter((f) => !f.startsWith('raw/') && !f.startsWith('local/')), [],
      'only the raw conversion of the named file and its remembered hash are cached');
  });

  test('a base whose partitions do not match the profile', async () => {
    if (!tools.every(requireTool)) return;
    const dir = tempDir();
    const { image } = hardkernelLikeBase(dir);
    const r = await build(image, dir); // an x86 node given an ODROID image
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /expected one root partition \(label cloudimg-rootfs, ext4\), found 0/);
    assert.deepEqual(listFiles(join(dir, 'out')), []);
  });

  test('not enough space on the output file system is refused before writing', async () => {
    const dir = tempDir();
    await assert.rejects(ensureSpace(dir, 2 ** 60), (e: Error & { code?: string }) => e.code === 'NoSpace' && /needs 1024.00PiB|needs \d/.test(e.message));
  });

  test('a bad --disk-size or --compress is an input error', async () => {
    for (const args of [['--disk-size', 'huge'], ['--compress', 'lz4']]) {
      const dir = tempDir();
      const r = await cli(['--config', MINIMAL, 'build', 'n1', '--out', join(dir, 'out'), ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(!existsSync(join(dir, 'out')));
    }
  });
});

describe('bootloader blobs at raw offsets', () => {
  test('a profile blob is written at its offset; one that would overlap a partition is refused', async () => {
    if (!tools.every(requireTool)) return;
    const dir = tempDir();
    const base = ubuntuLikeBase(dir, 240);
    const blob = Buffer.alloc(40_000);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 13 + 1) & 0xff;
    writeFileSync(join(dir, 'u-boot.bin'), blob);
    execFileSync('mkdir', ['-p', join(dir, 'boards')]);
    const board = (offset: number): void => writeFileSync(join(dir, 'boards/pc-uboot.yaml'),
      `name: pc-uboot\nextends: x86\ntitle: test board with a raw blob\nboot:\n  blobs:\n    - { file: u-boot.bin, offsetBytes: ${offset} }\n`);
    const config = join(dir, 'images.config.mjs');
    writeFileSync(config, readFileSync(MINIMAL, 'utf8').replace('profileDirs: []', "profileDirs: ['boards']").replace("board: 'x86'", "board: 'pc-uboot'"));
    board(32 * 1024);
    const r = await cli(['--config', config, 'build', 'n1', '--base', base, '--out', join(dir, 'out'), '--cache-dir', join(dir, 'cache')]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readRange(join(dir, 'out/n1.img'), 32 * 1024, blob.length).equals(blob));
    assert.match(run('sgdisk', ['-v', join(dir, 'out/n1.img')]), /No problems found/);
    board(2048 * 512 - 4096);
    const bad = await cli(['--config', config, 'build', 'n1', '--base', base, '--out', join(dir, 'out2'), '--cache-dir', join(dir, 'cache')]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /u-boot\.bin: a blob at bytes 1044480-1084480 would overlap the GPT or the first partition \(sector 2048\)/);
    assert.ok(!existsSync(join(dir, 'out2')) || listFiles(join(dir, 'out2')).length === 0);
  });
});
