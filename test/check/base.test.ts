// A node's base against the Kubernetes and CNI releases: the facts each profile states about its
// base (kernel, cgroup layout) judged by data/compatibility.yaml.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cli } from '../helpers.ts';
import { obj, worker, type Obj } from '../fixtures/lab-config.ts';
import { findings } from './check-helper.ts';

const odroid = (extra: Obj = {}, board = 'odroid-m1-hardkernel') => (c: Obj) => { (c['nodes'] as Obj[]).push(worker(1, { board, ...extra })); };

test('an ODROID-M1 on Hardkernel\'s 20.04 base with Kubernetes 1.35 and Cilium 1.19: refused (errors, exit 1) for both facts, naming the node, the source and the board\'s alternative', async () => {
  const r = await findings(odroid());
  assert.equal(r.code, 1);
  assert.deepEqual(r.findings.map((f) => [f.id, f.severity]), [['base-cgroup-v1', 'error'], ['base-kernel-cni', 'error']]);
  assert.equal(r.findings[0]!.message, 'w01\'s base (ubuntu 20.04, kernel 4.19, cgroup v1) mounts cgroup v1: the kubelet of Kubernetes 1.35 refuses to start on it (failCgroupV1, KEP-5573).');
  assert.match(r.findings[0]!.hint!, /KEP-5573/);
  assert.match(r.findings[0]!.hint!, /^Use board 'odroid-m1' \(the same board on a base that runs it\), or a base with cgroup v2/);
  assert.match(r.findings[1]!.hint!, /^Use board 'odroid-m1' /);
  assert.equal(r.findings[1]!.message, 'w01\'s base (ubuntu 20.04, kernel 4.19, cgroup v1): Cilium 1.19 needs kernel 5.10 or later; its agent will not run there.');
  assert.deepEqual(r.findings[1]!.paths, ['nodes[3].board', 'cluster.cni.version']);
});

test('the default ODROID-M1 and M2 bases (Ubuntu 24.04) pass with Kubernetes 1.35 and Cilium 1.19; the M2 Hardkernel base is refused too', async () => {
  assert.deepEqual(await findings(odroid({}, 'odroid-m1')), { code: 0, findings: [] });
  const m2 = await findings(odroid({}, 'odroid-m2'));
  assert.ok(!m2.findings.some((f) => f.id.startsWith('base-')));
  const hk = await findings(odroid({}, 'odroid-m2-hardkernel'));
  assert.deepEqual(hk.findings.filter((f) => f.id.startsWith('base-')).map((f) => f.id), ['base-cgroup-v1']);
  assert.match(hk.findings[0]!.hint!, /^Use board 'odroid-m2' /);
});

test('an ODROID-M2 without its U-Boot blob: warned, naming the offset, what to give and the source; with the blob, not', async () => {
  const none = await findings(odroid({}, 'odroid-m2'));
  const missing = none.findings.filter((f) => f.id === 'boot-loader-missing');
  assert.equal(missing.length, 1);
  assert.equal(missing[0]!.severity, 'warning');
  assert.equal(missing[0]!.message, 'w01: board odroid-m2 reads its boot loader from the disk at byte 32768, and the image would carry none there; it would not start.');
  assert.match(missing[0]!.hint!, /u-boot-rockchip\.bin .*offsetBytes: 32768 .*Source: armbian\/build config\/boards\/odroidm2\.conf/);
  assert.deepEqual(missing[0]!.paths, ['nodes[3].overrides.boot.blobs', 'nodes[3].board']);
  const given = await findings(odroid({ overrides: { boot: { blobs: [{ file: 'u-boot-rockchip.bin', offsetBytes: 32768 }] } } }, 'odroid-m2'));
  assert.ok(!given.findings.some((f) => f.id === 'boot-loader-missing'));
  const elsewhere = await findings(odroid({ overrides: { boot: { blobs: [{ file: 'u-boot-rockchip.bin', offsetBytes: 512 * 64 * 2 }] } } }, 'odroid-m2'));
  assert.ok(elsewhere.findings.some((f) => f.id === 'boot-loader-missing'), 'a blob at another offset is not the loader');
});

test('Kubernetes 1.32 with Cilium 1.17: no cgroup finding, the kernel still below 5.4; a base with a newer kernel and cgroup v2 passes', async () => {
  const older = await findings((c) => { odroid()(c); obj(c['cluster'])['kubernetesVersion'] = '1.32.9'; obj(obj(c['cluster'])['cni'])['version'] = '1.17.4'; });
  const base = older.findings.filter((f) => f.id.startsWith('base-'));
  assert.deepEqual(base.map((f) => f.id), ['base-kernel-cni']);
  assert.match(base[0]!.message, /Cilium 1\.17 needs kernel 5\.4 or later/);
  const newer = await findings(odroid({ overrides: { base: { facts: { kernel: '6.12', cgroup: 'v2' } } } }));
  assert.deepEqual(newer, { code: 0, findings: [] });
});

test('imgforge profiles shows each base\'s facts', async () => {
  const r = await cli(['profiles', '--json']);
  const rows = JSON.parse(r.stdout) as { name: string; facts: { kernel: string; cgroup: string; cloudInit: string; bootedBy: string; source: string } }[];
  assert.deepEqual(rows.map((x) => [x.name, x.facts.kernel, x.facts.cgroup, x.facts.cloudInit]),
    [['arm64-debian', '6.1', 'v2', 'enabled'], ['odroid-m1', '6.8', 'v2', 'enabled'], ['odroid-m1-hardkernel', '4.19', 'v1', 'disabled'], ['odroid-m2', '6.8', 'v2', 'enabled'],
      ['odroid-m2-hardkernel', '5.10', 'v1', 'disabled'], ['thin-client', '6.8', 'v2', 'enabled'], ['x86', '6.8', 'v2', 'enabled'], ['x86-debian', '6.1', 'v2', 'enabled']]);
  assert.ok(rows.every((x) => x.facts.source.length > 20 && x.facts.bootedBy.length > 5));
  const text = await cli(['profiles']);
  assert.match(text.stdout, /\n {2}runs: kernel 4\.19, cgroup v1, cloud-init disabled; booted by Hardkernel U-Boot 2017\.09/);
});

test('a disk larger than the boot chain is known to see: warned, naming the limit and its source; a smaller one, or a base without the limit, is not', async () => {
  const big = await findings(odroid({ disk: { size: '1TB' } }));
  const limit = big.findings.filter((f) => f.id === 'boot-disk-limit');
  assert.equal(limit.length, 1);
  assert.equal(limit[0]!.severity, 'warning');
  assert.match(limit[0]!.message, /^w01's disk \(1000 GB\) is larger than 500 GB, the largest its boot chain \(Hardkernel U-Boot 2017\.09 and Petitboot/);
  assert.match(limit[0]!.hint!, /inindev\/odroid-m1#4/);
  assert.deepEqual(limit[0]!.paths, ['nodes[3].disk.size', 'nodes[3].board']);
  const small = await findings(odroid({ disk: { size: '480GB' } }));
  assert.ok(!small.findings.some((f) => f.id === 'boot-disk-limit'));
  const x86 = await findings((c: Obj) => { (c['nodes'] as Obj[]).push(worker(1, { board: 'x86', disk: { size: '4TB' } })); });
  assert.ok(!x86.findings.some((f) => f.id === 'boot-disk-limit'), 'GRUB from the image has no such limit');
});
