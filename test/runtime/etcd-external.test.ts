// The external etcd topology (seed 004's shape): each etcd node installs the pinned etcd release,
// checked by its SHA-256, runs it under systemd with imgforge's unit, and waits for a majority.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';
import { ClusterRigs } from './cluster-rig.ts';

const CONFIG = join(ROOT, 'examples/external-etcd.config.ts');

/** An etcd release archive as etcd-io lays it out, its programs stand-ins that know their version. */
function releaseArchive(version: string): Buffer {
  const dir = tempDir('imgforge-etcd-release-');
  const top = join(dir, `etcd-v${version}-linux-amd64`);
  mkdirSync(top);
  for (const b of ['etcd', 'etcdctl', 'etcdutl']) {
    writeFileSync(join(top, b), `#!/bin/sh\n[ "$1" = --version ] && echo "${b === 'etcd' ? 'etcd' : b} Version: ${version}"\n`);
    chmodSync(join(top, b), 0o755);
  }
  const r = spawnSync('tar', ['-czf', join(dir, 'etcd.tar.gz'), '-C', dir, `etcd-v${version}-linux-amd64`]);
  assert.equal(r.status, 0);
  return readFileSync(join(dir, 'etcd.tar.gz'));
}

test('the plan: etcd nodes get the release for their architecture and the initial cluster of every etcd node; no kubeadm', async () => {
  const c = await ClusterRigs.of(CONFIG);
  const a = c.doc('etcd1').assembly!;
  assert.equal(a.part, 'etcd');
  assert.equal(a.packages, null);
  assert.equal(a.etcd!.url, 'https://github.com/etcd-io/etcd/releases/download/v3.6.14/etcd-v3.6.14-linux-amd64.tar.gz');
  assert.equal(c.doc('etcd3').assembly!.etcd!.url, 'https://github.com/etcd-io/etcd/releases/download/v3.6.14/etcd-v3.6.14-linux-arm64.tar.gz');
  assert.notEqual(c.doc('etcd3').assembly!.etcd!.sha256, a.etcd!.sha256);
  assert.equal(a.etcd!.initialCluster, 'etcd1=https://172.16.5.21:2380,etcd2=https://172.16.5.22:2380,etcd3=https://172.16.5.23:2380');
  assert.deepEqual(c.doc('etcd1').stages.map((s) => s.name), ['layout', 'prepare', 'etcd-external', 'complete']);
  assert.ok(!c.plan.secrets.get('etcd1')!.files.some((f) => f.path.endsWith('kubeadm.yaml')));
  const unit = c.plan.bundles.get('etcd1')!.files.find((f) => f.path === '/etc/systemd/system/etcd.service')!.content;
  assert.match(unit, /ExecStart=\/usr\/local\/bin\/etcd \\\n {2}--name=etcd1 \\/);
  assert.match(unit, /--initial-cluster=etcd1=https:\/\/172\.16\.5\.21:2380,etcd2=https:\/\/172\.16\.5\.22:2380,etcd3=https:\/\/172\.16\.5\.23:2380 \\/);
  assert.match(unit, /--listen-client-urls=https:\/\/127\.0\.0\.1:2379,https:\/\/172\.16\.5\.21:2379 \\/);
});

test('a member installs the release only with its pinned digest, starts, and waits for a majority within its deadline', async () => {
  const c = await ClusterRigs.of(CONFIG);
  const archive = releaseArchive('3.6.14');
  const url = c.doc('etcd1').assembly!.etcd!.url!;
  writeFileSync(join(c.world, 'etcd-size'), '3\n');
  // A tampered archive: refused, nothing installed, not retried.
  const sha = createHash('sha256').update(archive).digest('hex');
  const patch = (doc: any) => { doc.assembly.etcd.sha256 = sha; };
  const bad = c.node('etcd1', patch);
  c.serve(url, Buffer.concat([archive, Buffer.from('x')]));
  assert.equal(bad.stage('etcd-external', c.env('etcd1')).status, 1);
  assert.match(bad.events().at(-1)!.msg!, /has SHA-256 [0-9a-f]{64}, not the pinned/);
  assert.ok(!existsSync(bad.path('usr/local/bin/etcd')));
  assert.deepEqual(bad.events().filter((e) => e.state === 'retry'), []);
  // The real archive: installed; alone it has no quorum and says so at its deadline.
  c.serve(url, archive);
  const e1 = c.node('etcd1', patch);
  assert.equal(e1.stage('etcd-external', c.env('etcd1', { IMGFORGE_WAIT_OTHERS: '20' })).status, 1);
  assert.match(e1.events().at(-1)!.msg!, /gave up waiting for a majority of the etcd members/);
  assert.equal(spawnSync(e1.path('usr/local/bin/etcd'), ['--version'], { encoding: 'utf8' }).stdout, 'etcd Version: 3.6.14\n');
  // Started without waiting for it: etcd is ready only with a majority, the stage's wait has the deadline.
  assert.ok(e1.calls('systemctl').some((x) => x.join(' ') === 'systemctl start --no-block etcd'));
  // A second member: a majority; both converge.
  const e2 = c.node('etcd2', patch);
  assert.equal(e2.stage('etcd-external', c.env('etcd2')).status, 0, JSON.stringify(e2.events().at(-1)));
  e1.clearCalls();
  assert.equal(e1.stage('etcd-external', c.env('etcd1')).status, 0, JSON.stringify(e1.events().at(-1)));
  assert.deepEqual(e1.calls('curl'), [], 'installed already: not downloaded again');
  assert.match(e1.events().at(-1)!.msg!, /etcd 3\.6\.14 runs; 2 members started/);
});
