// build --generic: one image per board, its CIDATA empty, root pointing cloud-init at the seed server.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, listFiles, requireTool, ROOT, tempDir } from '../helpers.ts';
import { ubuntuLikeBase } from '../fixtures/bases.ts';
import { extCat, partitions, partNamed, run, sha, tools } from './image-read.ts';
import { loadRuntime } from '../../src/render/runtime.ts';
import { genericRootFiles, SEED_CA } from '../../src/plan/generic.ts';

const MINIMAL = join(ROOT, 'test/fixtures/minimal.config.mjs');
const URL_ = 'https://192.168.50.5:8443/';

describe('build --generic from an Ubuntu-cloud-image-shaped base', { concurrency: false }, () => {
  let dir = '', base = '', out = '', img = '', rootAt = 0;
  before(async () => {
    if (!tools.every(requireTool)) return;
    dir = tempDir();
    base = ubuntuLikeBase(dir);
    out = join(dir, 'out');
    const r = await cli(['--config', MINIMAL, 'build', '--generic', 'x86', '--seed-url', URL_, '--base', base, '--out', out, '--cache-dir', join(dir, 'cache'), '--json']);
    assert.equal(r.code, 0, r.stderr);
    img = join(out, 'generic-x86.img');
    rootAt = partitions(img).find((p) => p.node.endsWith('img1'))!.start * 512;
  });

  test('one image named for the board, with bmap, checksum and a manifest that names no node', () => {
    assert.deepEqual(listFiles(out), ['generic-x86.img', 'generic-x86.img.bmap', 'generic-x86.img.sha256', 'generic-x86.manifest.json']);
    const m = JSON.parse(readFileSync(join(out, 'generic-x86.manifest.json'), 'utf8')) as Record<string, unknown> & { image: { sha256: string; edits: { write: { path: string; sha256: string }[] } } };
    assert.equal(m['node'], null);
    assert.equal(m['profile'], 'x86');
    assert.deepEqual(m['generic'], { seedUrl: URL_, match: 'mac', layoutOf: 'n1' });
    assert.equal(m.image.sha256, sha(img));
    assert.ok(!('seed' in m) && !('bundle' in m), 'no seed, no bundle');
    assert.deepEqual(m.image.edits.write.map((w) => w.path), ['/etc/cloud/cloud.cfg.d/98_imgforge-datasource.cfg', '/etc/imgforge/seed.conf', '/usr/local/lib/imgforge/seed-url', '/etc/systemd/system/imgforge-seed-url.service']);
  });

  test('root holds the plan\'s files, owned by root with their modes, and the unit enabled; the rest of root is the base\'s', async () => {
    const { files, links } = genericRootFiles(await loadRuntime(), { board: 'x86', seedUrl: URL_, match: 'mac', seedCa: null });
    for (const f of files) {
      assert.equal(extCat(img, rootAt, f.path), f.content, f.path);
      const st = run('debugfs', ['-R', `stat ${f.path}`, `${img}?offset=${rootAt}`]);
      assert.match(st, new RegExp(`Mode:\\s+0${f.mode.toString(8)}`), `${f.path}: ${st.split('\n')[0]}`);
      assert.match(st, /User:\s+0\s+Group:\s+0/, f.path);
    }
    assert.match(extCat(img, rootAt, '/etc/imgforge/seed.conf'), /^SEED_URL='https:\/\/192\.168\.50\.5:8443\/'$/m);
    const link = run('debugfs', ['-R', `stat ${links[0]!.path}`, `${img}?offset=${rootAt}`]);
    assert.match(link, /Type: symlink/);
    assert.match(link, /Fast link dest: "\/etc\/systemd\/system\/imgforge-seed-url\.service"/);
    const baseRoot = partitions(base).find((p) => p.node.endsWith('img1'))!.start * 512;
    for (const f of ['/etc/hostname', '/etc/os-release', '/usr/bin/tool']) assert.equal(extCat(img, rootAt, f), extCat(base, baseRoot, f), f);
    assert.equal(extCat(img, rootAt, '/etc/machine-id'), '');
  });

  test('CIDATA is there and empty (NoCloud passes over it), and the image passes sgdisk -v, fsck.fat -n and e2fsck -fn', () => {
    const cidata = partNamed(img, 'cidata').start * 512;
    const dirList = spawnSync('mdir', ['-i', `${img}@@${cidata}`, '-b', '::'], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
    assert.equal(dirList.stdout.trim(), '');
    assert.match(run('sgdisk', ['-v', img]), /No problems found/);
    run('e2fsck', ['-fn', `${img}?offset=${rootAt}`]);
  });

  test('two builds are byte-identical; another seed URL and --match are what root\'s seed.conf holds', async () => {
    const out2 = join(dir, 'out2');
    assert.equal((await cli(['--config', MINIMAL, 'build', '--generic', 'x86', '--seed-url', URL_, '--base', base, '--out', out2, '--cache-dir', join(dir, 'cache')])).code, 0);
    for (const f of readdirSync(out)) assert.equal(sha(join(out2, f)), sha(join(out, f)), f);
    const out3 = join(dir, 'out3');
    assert.equal((await cli(['--config', MINIMAL, 'build', '--generic', 'x86', '--seed-url', 'https://seed.lan/', '--match', 'uuid', '--base', base, '--out', out3, '--cache-dir', join(dir, 'cache')])).code, 0);
    const r3 = partitions(join(out3, 'generic-x86.img')).find((p) => p.node.endsWith('img1'))!.start * 512;
    assert.match(extCat(join(out3, 'generic-x86.img'), r3, '/etc/imgforge/seed.conf'), /SEED_URL='https:\/\/seed\.lan\/'\nSEED_MATCH=uuid/);
    assert.equal(spawnSync('debugfs', ['-R', `stat ${SEED_CA}`, `${join(out3, 'generic-x86.img')}?offset=${r3}`], { encoding: 'utf8' }).stdout.includes('Inode:'), false, 'no CA without --seed-ca');
  });

  test('--seed-ca: the certificate in root where update-ca-certificates takes it, as PEM alone', async () => {
    const ca = join(dir, 'seed-ca.pem');
    run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'seed-ca.key'), '-out', ca, '-subj', '/CN=seed test CA', '-days', '30']);
    writeFileSync(join(dir, 'with-text.pem'), `a comment before it\n${readFileSync(ca, 'utf8')}`);
    const out4 = join(dir, 'out4');
    const r = await cli(['--config', MINIMAL, 'build', '--generic', 'x86', '--seed-url', 'https://10.0.2.2:8443/', '--seed-ca', join(dir, 'with-text.pem'), '--base', base, '--out', out4, '--cache-dir', join(dir, 'cache')]);
    assert.equal(r.code, 0, r.stderr);
    const img4 = join(out4, 'generic-x86.img');
    const r4 = partitions(img4).find((p) => p.node.endsWith('img1'))!.start * 512;
    assert.equal(extCat(img4, r4, SEED_CA), readFileSync(ca, 'utf8'));
  });

  test('bad flags: exit 2 naming the flag, nothing built', async () => {
    const cases: [string[], RegExp][] = [
      [['--generic', 'x86'], /--generic needs --seed-url/],
      [['--generic', 'x86', '--seed-url', 'https://192.168.50.5:8443'], /--seed-url: .* must end in "\/"/],
      [['--generic', 'x86', '--seed-url', 'http://192.168.50.5:8080/'], /--seed-url: .* is not https: a node of a generic image claims its secrets/],
      [['--generic', 'x86', '--seed-url', 'ftp://seed/'], /--seed-url: .* is not https/],
      [['--generic', 'x86', '--seed-url', URL_, 'n1'], /takes no targets/],
      [['--generic', 'x86', '--seed-url', URL_, '--disk-size', '1TB'], /--disk-size does not apply/],
      [['n1', '--seed-url', URL_], /are for --generic images/],
      [['--generic', 'x86', '--seed-url', 'https://seed.lan/', '--seed-ca', MINIMAL], /--seed-ca .*minimal\.config\.mjs: not a certificate/],
      [['--generic', 'x86', '--seed-url', 'https://seed.lan/', '--seed-ca', join(ROOT, 'nonexistent.pem')], /--seed-ca .*nonexistent\.pem: ENOENT/],
      [['--generic', 'odroid-m1', '--seed-url', URL_], /odroid-m1/],
    ];
    for (const [args, want] of cases) {
      const o = join(dir, 'bad');
      const r = await cli(['--config', MINIMAL, 'build', ...args, '--base', base, '--out', o, '--cache-dir', join(dir, 'cache')]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, want, args.join(' '));
      assert.ok(!existsSync(o) || readdirSync(o).length === 0, `${args.join(' ')}: nothing written`);
    }
    assert.ok(statSync(img).size > 0);
  });
});
