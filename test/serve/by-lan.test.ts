// /by-lan/<file>: a machine on the server's own LAN is named by the MAC this host's neighbour
// table gives its address; it needs nothing in its URL (a generic image built with --match lan).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { preparedOnce, raw, serveTest } from './fixtures.ts';

test('by LAN: the requester\'s neighbour-table MAC names its node; no entry is 404 with the reason; an unknown MAC is listed', async () => {
  const p = await preparedOnce();
  let table: string | null = '52:54:00:60:0a:2b';
  const asked: string[] = [];
  const server = await serveTest(p.plan, { neighbour: async (address) => { asked.push(address); return table; } });
  try {
    const got = await raw(server.port, 'GET', '/by-lan/meta-data');
    assert.equal(got.status, 200);
    const w1 = await raw(server.port, 'GET', '/nodes/w1/meta-data');
    assert.equal(got.body.toString(), w1.body.toString(), 'w1\'s open seed, as /nodes/w1/ serves it');
    assert.deepEqual(asked, ['127.0.0.1']);
    assert.equal((await raw(server.port, 'GET', '/by-lan/imgforge-secrets.tar')).status, 401, 'secrets never by a MAC');

    table = null;
    const none = await raw(server.port, 'GET', '/by-lan/meta-data');
    assert.equal(none.status, 404);
    assert.match(none.body.toString(), /127\.0\.0\.1 is not in this host's neighbour table/);

    table = '52:54:00:99:99:99';
    assert.equal((await raw(server.port, 'GET', '/by-lan/user-data')).status, 404);
    const unknown = JSON.parse((await raw(server.port, 'GET', '/unknown.json')).body.toString()) as { unknown: { by: string; value: string; neighbourMac: string | null }[] };
    assert.deepEqual(unknown.unknown.map((u) => [u.by, u.value, u.neighbourMac]), [['mac', '52:54:00:99:99:99', '52:54:00:99:99:99']]);
  } finally {
    await server.close();
  }
});
