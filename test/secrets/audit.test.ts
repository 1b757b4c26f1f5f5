// imgforge audit and the scoping it proves: the root example's worker seeds and images carry no
// CA key, control planes carry theirs 0600, and a key planted anywhere is found; build refuses an
// image that breaks the rules.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync, closeSync, readFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { parse } from 'yaml';
import { cli, listFiles, requireTool, ROOT, tempDir } from '../helpers.ts';
import { ubuntuArm64LikeBase, ubuntuLikeBase } from '../fixtures/bases.ts';
import { probeBase } from '../../src/image/probe.ts';

const HOMELAB = join(ROOT, 'images.config.ts');
const NODES = ['cp01', 'cp02', 'worker01', 'worker02', 'worker03', 'worker04'];
const CONTROL_PLANE_ONLY = /CA key|service-account signing key|apiserver-etcd-client key/;

interface Report { node: string; role: string; bundle: boolean; keys: { kind: string; where: string; mode: string | null; offset: number }[]; violations: string[]; ok: boolean }

/** The root example's own bundle (the test copy): its keys, to plant. */
function homelabBundle(): { cas: { cluster: { key: string } }; serviceAccount: { key: string } } {
  return parse(readFileSync(join(process.env['IMGFORGE_SECRETS_DIR']!, 'homelab.yaml'), 'utf8')) as ReturnType<typeof homelabBundle>;
}
const derOf = (pem: string): Buffer => createPrivateKey(pem).export({ type: 'pkcs1', format: 'der' }) as Buffer;

async function auditJson(target: string): Promise<{ code: number; report: Report; stderr: string }> {
  const r = await cli(['--config', HOMELAB, 'audit', '--json', target]);
  return { code: r.code, report: (r.stdout ? JSON.parse(r.stdout) : null) as Report, stderr: r.stderr };
}

function plant(file: string, offset: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  writeSync(fd, bytes, 0, bytes.length, offset);
  closeSync(fd);
}

describe('seeds of the root example', () => {
  const out = tempDir();
  before(async () => {
    for (const n of NODES) assert.equal((await cli(['--config', HOMELAB, 'render', n, '--out', join(out, n)])).code, 0);
  });

  test('workers carry no CA or service-account key; control planes carry theirs, 0600; every key is named by the bundle', async () => {
    for (const n of NODES) {
      const { code, report } = await auditJson(join(out, n));
      assert.equal(code, 0, JSON.stringify(report.violations));
      assert.equal(report.node, n);
      assert.ok(report.bundle);
      const kinds = report.keys.filter((k) => k.where.startsWith('imgforge-secrets.tar:')).map((k) => k.kind).sort();
      if (report.role === 'control-plane') {
        assert.deepEqual(kinds, ['cluster CA key', 'etcd CA key', 'front-proxy CA key', 'service-account signing key']);
      } else {
        assert.deepEqual(report.keys.filter((k) => CONTROL_PLANE_ONLY.test(k.kind)), [], `${n} carries no control-plane key`);
        assert.deepEqual(kinds, n === 'worker01' ? ['etcd healthcheck-client key of worker01', 'etcd peer key of worker01', 'etcd server key of worker01'] : []);
      }
      for (const k of report.keys) assert.equal(k.mode, '0600', `${k.where}`);
    }
  });

  test('a worker seed with the CA key planted, or a key file 0644 (as a file or in the tar): exit 1 naming it', async () => {
    const bad = join(tempDir(), 'worker02');
    cpSync(join(out, 'worker02'), bad, { recursive: true });
    mkdirSync(join(bad, 'tree/etc/kubernetes/pki'), { recursive: true });
    writeFileSync(join(bad, 'tree/etc/kubernetes/pki/ca.key'), homelabBundle().cas.cluster.key, { mode: 0o600 });
    let r = await auditJson(bad);
    assert.equal(r.code, 1);
    assert.deepEqual(r.report.violations, ['worker02 is a worker node and carries the cluster CA key (tree/etc/kubernetes/pki/ca.key)']);

    const loose = join(tempDir(), 'worker01');
    cpSync(join(out, 'worker01'), loose, { recursive: true });
    chmodSync(join(loose, 'tree/etc/kubernetes/pki/etcd/peer.key'), 0o644);
    r = await auditJson(loose);
    assert.equal(r.code, 1);
    assert.deepEqual(r.report.violations, ['tree/etc/kubernetes/pki/etcd/peer.key holds a private key (etcd peer key of worker01) with mode 0644, not 0600']);

    // The tar repacked with a key readable by all: the entry's mode is what the node would get.
    const tarred = join(tempDir(), 'worker01');
    cpSync(join(out, 'worker01'), tarred, { recursive: true });
    const tar = spawnSync('tar', ['-cf', join(tarred, 'imgforge-secrets.tar'), '--mode=a+r', '-C', join(tarred, 'tree'), 'etc/kubernetes/pki/etcd/server.key']);
    assert.equal(tar.status, 0, String(tar.stderr));
    r = await auditJson(tarred);
    assert.equal(r.code, 1);
    assert.ok(r.report.violations.includes('imgforge-secrets.tar:etc/kubernetes/pki/etcd/server.key holds a private key (etcd server key of worker01) with mode 0644, not 0600'), r.report.violations.join('\n'));
  });

  test('without the bundle at hand, CA keys are still known by the CA certificate beside them and by kubeadm\'s file names', async () => {
    const r = await cli(['--config', join(tempDir(), 'none.config.ts'), 'audit', '--json', join(out, 'cp01')]);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.bundle, false);
    assert.ok(report.keys.some((k) => k.kind === 'CA key (kubernetes)'));
    assert.ok(report.keys.some((k) => k.kind === 'service-account signing key'));
  });
});

const tools = ['sgdisk', 'mkfs.fat', 'mcopy', 'mdir', 'mtype', 'debugfs', 'e2fsck', 'fsck.fat', 'filefrag', 'mke2fs'];

describe('images of the root example', { concurrency: false }, () => {
  const dir = tempDir();
  const out = join(dir, 'out');
  let x86 = '', odroid = '';
  before(async () => {
    if (!tools.every(requireTool)) return;
    mkdirSync(join(dir, 'x86'));
    x86 = ubuntuLikeBase(join(dir, 'x86'), 700);
    mkdirSync(join(dir, 'arm64'));
    odroid = ubuntuArm64LikeBase(join(dir, 'arm64'));
    for (const [base, nodes] of [[x86, ['worker01', 'worker03', 'worker04']], [odroid, ['cp01', 'worker02']]] as const) {
      const r = await cli(['--config', HOMELAB, 'build', ...nodes, '--base', base, '--out', out, '--cache-dir', join(dir, 'cache')]);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  test('every worker image carries 0 CA keys; the control plane\'s CA keys are in its secrets tar, 0600', async () => {
    for (const n of ['worker01', 'worker02', 'worker03', 'worker04', 'cp01']) {
      const { code, report } = await auditJson(join(out, `${n}.img`));
      assert.equal(code, 0, report.violations.join('\n'));
      const cpKeys = report.keys.filter((k) => CONTROL_PLANE_ONLY.test(k.kind));
      if (n === 'cp01') {
        assert.deepEqual(cpKeys.map((k) => `${k.kind} ${k.where} ${k.mode}`).sort(), [
          'cluster CA key CIDATA/imgforge-secrets.tar:etc/kubernetes/pki/ca.key 0600',
          'etcd CA key CIDATA/imgforge-secrets.tar:etc/kubernetes/pki/etcd/ca.key 0600',
          'front-proxy CA key CIDATA/imgforge-secrets.tar:etc/kubernetes/pki/front-proxy-ca.key 0600',
          'service-account signing key CIDATA/imgforge-secrets.tar:etc/kubernetes/pki/sa.key 0600',
        ]);
        assert.deepEqual(report.keys.filter((k) => k.mode === null), [], 'each key in CIDATA\'s raw bytes is the one its tar names');
      } else {
        assert.deepEqual(cpKeys, [], n);
      }
    }
  });

  test('a CA key planted at an odd offset of a worker\'s root partition (DER), and the SA key in its ESP (PEM), are found there', async () => {
    const img = join(dir, 'planted.img');
    copyFileSync(join(out, 'worker01.img'), img);
    const bundle = homelabBundle();
    const root = probeBase(img).partitions.find((p) => p.label === 'cloudimg-rootfs')!;
    const rootAt = root.firstLba * 512;
    plant(img, rootAt + 7_777_777, derOf(bundle.cas.cluster.key));
    plant(img, 10240 * 512 + 3_000_001, Buffer.from(bundle.serviceAccount.key));
    const { code, report } = await auditJson(img);
    assert.equal(code, 1);
    const raw = report.keys.filter((k) => k.mode === null).map((k) => `${k.kind} @${k.offset} ${k.where}`);
    assert.ok(raw.includes(`cluster CA key @${rootAt + 7_777_777} partition ${root.number} (cloudimg-rootfs)`), raw.join('\n'));
    assert.ok(raw.includes(`service-account signing key @${10240 * 512 + 3_000_001} partition 15 (UEFI)`), raw.join('\n'));
    assert.equal(report.violations.length, 2);
    assert.match(report.violations[0]!, /^worker01 is a worker node and carries the/);
    const text = await cli(['--config', HOMELAB, 'audit', img]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /VIOLATIONS:\n(?: {2}- .*\n)* {2}- worker01 is a worker node and carries the cluster CA key \(partition \d+ \(cloudimg-rootfs\) at byte \d+\)/);
  });

  test('build refuses a worker image from a base that carries the CA key (root) or the SA key (ESP): exit 7, nothing under a final name', async () => {
    const base = join(dir, 'tainted.img');
    copyFileSync(x86, base);
    // Root is read by the digest pass, which the audit's scanner rides; the ESP comes before it, in
    // the image's head, which the audit reads itself.
    plant(base, 360448 * 512 + 5_555_555, Buffer.from(homelabBundle().cas.cluster.key));
    plant(base, 10240 * 512 + 2_222_221, derOf(homelabBundle().serviceAccount.key));
    const bad = join(dir, 'bad-out');
    const r = await cli(['--config', HOMELAB, 'build', 'worker04', '--base', base, '--out', bad, '--cache-dir', join(dir, 'cache')]);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /carries secrets its node must not hold[\s\S]*worker04 is a worker node and carries the service-account signing key \(partition 15 \(UEFI\) at byte 7465101\); worker04 is a worker node and carries the cluster CA key \(partition \d+ \(cloudimg-rootfs\)/);
    assert.deepEqual(existsSync(bad) ? listFiles(bad) : [], []);
  });
});
