// What the seed server hands out is what `imgforge render --bundle-url` writes, byte for byte,
// for every node and both renderings; by MAC (any of the forms boot loaders print), SMBIOS serial
// and UUID a node gets its own open seed; the optional files are 200 even when empty.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleUrls } from '../../src/plan/serve.ts';
import { cli, tempDir } from '../helpers.ts';
import { CONFIG, preparedOnce, raw, serveTest, URL_TOLD, type TestServer } from './fixtures.ts';

const FILES = ['meta-data', 'user-data', 'vendor-data', 'network-config', 'imgforge-bundle.tar', 'imgforge-secrets.tar'];

describe('seeds served', () => {
  let server: TestServer;
  let secrets: ReadonlyMap<string, string>;
  before(async () => {
    const p = await preparedOnce();
    secrets = p.enrolments;
    server = await serveTest(p.plan);
  });
  after(() => server.close());

  for (const host of ['cp1', 'w1', 'w2']) {
    test(`${host}: the open and the enrolled seed are imgforge render's bytes for their bundle URL`, async () => {
      const urls = bundleUrls(URL_TOLD, host, secrets.get(host)!);
      for (const [variant, bundleUrl] of Object.entries(urls)) {
        const out = join(tempDir(), host);
        const r = await cli(['--config', CONFIG, 'render', host, '--out', out, '--bundle-url', bundleUrl]);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(readFileSync(join(out, 'user-data'), 'utf8').includes(bundleUrl), 'render pins the bundle URL asked for');
        const base = variant === 'open' ? `/nodes/${host}/` : `/nodes/${host}/${secrets.get(host)}/`;
        for (const f of FILES) {
          // The open secrets tar needs the node's secret as a bearer token; the enrolled path is itself the proof.
          const headers: Record<string, string> = variant === 'open' && f === 'imgforge-secrets.tar' ? { authorization: `Bearer ${secrets.get(host)}` } : {};
          const got = await raw(server.port, 'GET', `${base}${f}`, { headers });
          assert.equal(got.status, 200, `${variant} ${f}: ${got.body.toString()}`);
          assert.ok(got.body.equals(readFileSync(join(out, f))), `${variant} ${host}/${f} differs from imgforge render's`);
        }
      }
    });
  }

  test('the two renderings differ only where the bundle URL is (user-data) and in the instance-id it makes', async () => {
    const open = (await preparedOnce()).plan.nodes[0]!;
    const differ = open.open.filter((f, i) => f.sha256 !== open.enrolled[i]!.sha256).map((f) => f.name);
    assert.deepEqual(differ, ['user-data', 'meta-data']);
  });

  test('by MAC in each form boot loaders print, by SMBIOS serial and by UUID (any case): the node\'s own open seed', async () => {
    const want = await raw(server.port, 'GET', '/nodes/cp1/user-data');
    for (const path of ['/by-mac/52:54:00:60:00:11/', '/by-mac/52-54-00-60-00-11/', '/by-mac/525400600011/',
      '/by-serial/SN-CP1-0001/', '/by-uuid/4c4c4544-0042-3510-8052-b4c04f4e3231/', '/by-uuid/4C4C4544-0042-3510-8052-B4C04F4E3231/']) {
      const got = await raw(server.port, 'GET', `${path}user-data`);
      assert.equal(got.status, 200, path);
      assert.ok(got.body.equals(want.body), path);
    }
    for (const mac of ['52:54:00:60:0a:2b', '52-54-00-60-0A-2B', '525400600A2B']) {
      const w1 = await raw(server.port, 'GET', `/by-mac/${mac}/meta-data`);
      assert.match(w1.body.toString(), /local-hostname: "w1"/, `${mac}: another MAC, another node`);
    }
  });

  test('vendor-data and network-config are 200 (a 404 costs cloud-init ~10 s of retries); HEAD answers without a body', async () => {
    for (const f of ['vendor-data', 'network-config']) {
      const got = await raw(server.port, 'GET', `/nodes/w2/${f}`);
      assert.equal(got.status, 200);
      assert.equal(got.headers['cache-control'], 'no-store');
    }
    const head = await raw(server.port, 'HEAD', '/nodes/w2/vendor-data');
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    const tar = await raw(server.port, 'GET', '/nodes/w2/imgforge-bundle.tar');
    assert.equal(tar.headers['content-type'], 'application/x-tar');
  });

  test('a file no seed has is 404 and lists no machine; a hostname, MAC, serial or UUID no node has is 404 and listed', async () => {
    assert.equal((await raw(server.port, 'GET', '/nodes/cp1/passwd')).status, 404);
    for (const path of ['/nodes/nosuch/meta-data', '/by-mac/52:54:00:60:00:99/meta-data', '/by-serial/SN-NONE/meta-data', '/by-uuid/00000000-0000-4000-8000-000000000001/meta-data']) {
      assert.equal((await raw(server.port, 'GET', path, { headers: { 'user-agent': 'Cloud-Init/24.4' } })).status, 404, path);
    }
    // A board without SMBIOS: cloud-init substitutes an empty value (cloudinit/dmi.py). Said so; no machine to list.
    const empty = await raw(server.port, 'GET', '/by-serial//user-data');
    assert.equal(empty.status, 400);
    assert.match((JSON.parse(empty.body.toString()) as { error: string }).error, /serial "": not a serial number \(empty/);
    const listed = JSON.parse((await raw(server.port, 'GET', '/unknown.json')).body.toString()) as { unknown: { by: string; value: string; address: string; userAgent: string; count: number }[] };
    assert.deepEqual(listed.unknown.map((u) => `${u.by} ${u.value} ${u.address} ${u.userAgent}`).sort(), [
      'hostname nosuch 127.0.0.1 Cloud-Init/24.4', 'mac 52:54:00:60:00:99 127.0.0.1 Cloud-Init/24.4',
      'serial SN-NONE 127.0.0.1 Cloud-Init/24.4', 'uuid 00000000-0000-4000-8000-000000000001 127.0.0.1 Cloud-Init/24.4',
    ]);
    await raw(server.port, 'GET', '/by-mac/52-54-00-60-00-99/user-data');
    const again = JSON.parse((await raw(server.port, 'GET', '/unknown.json')).body.toString()) as { unknown: { value: string; count: number }[] };
    assert.equal(again.unknown.find((u) => u.value === '52:54:00:60:00:99')!.count, 2, 'one machine, asked twice: one entry');
    const kept = readFileSync(join(server.stateDir, 'unknown.jsonl'), 'utf8').trim().split('\n');
    assert.equal(kept.length, 4, 'kept for a restart, one line per machine');
  });
});
