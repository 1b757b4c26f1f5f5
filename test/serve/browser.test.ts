// The live page in a real browser: Debian's chromium, headless, driven by playwright-core. It lists
// every node, follows posted events without a reload (the row's phase, stage and state, the last
// problem), lists an unknown machine, and says so when the server goes away or refuses its stream.
// A screenshot is kept for a person to look at: test-artifacts/serve-live-page.png, or under
// $IMGFORGE_TEST_ARTIFACTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { MAX_WATCHERS } from '../../src/execute/serve-page.ts';
import { ROOT } from '../helpers.ts';
import { event, preparedOnce, raw, serveTest } from './fixtures.ts';

/** Debian's package (`apt-get install chromium`); playwright's own browser downloads are not used. */
const CHROMIUM = process.env['IMGFORGE_CHROMIUM'] ?? '/usr/bin/chromium';
const ARTIFACTS = process.env['IMGFORGE_TEST_ARTIFACTS'] ?? join(ROOT, 'test-artifacts');
// Outside CI a machine without the browser skips; in CI (.ci/run installs it) the test runs and fails.
const skip = !existsSync(CHROMIUM) && !process.env['CI'] ? `no browser at ${CHROMIUM} (apt-get install chromium, or set IMGFORGE_CHROMIUM)` : false;

/**
 * The cells of a node's row as the page shows them now, and the row's class (its phase): read in
 * one script run, so both come from the same rendering (two locator reads could straddle an update).
 */
async function row(page: Page, host: string): Promise<{ cells: string[]; phase: string; detail: string }> {
  const rows = await page.evaluate("[...document.querySelectorAll('#nodes tr:not(.detail)')].map((tr) => ({ phase: tr.className, "
    + "cells: [...tr.cells].map((td) => td.textContent), detail: tr.nextElementSibling?.className === 'detail' ? tr.nextElementSibling.textContent : null }))");
  const found = (rows as { phase: string; cells: string[]; detail: string }[]).find((r) => r.cells[0] === host);
  assert.ok(found, `no row for ${host}`);
  return found;
}

/** Poll the page (the stream coalesces changes over 250 ms) until `ok`; the last value is in the failure. */
async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let v = await read();
  for (let i = 0; i < 200 && !ok(v); i++) { // 10 s: the machine may be busy
    await new Promise((r) => setTimeout(r, 50));
    v = await read();
  }
  assert.ok(ok(v), `${what}; the page shows ${JSON.stringify(v)}`);
  return v;
}

test('the live page in headless Chromium: nodes listed, events shown without a reload, a screenshot kept', { skip, timeout: 60_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  const p = await preparedOnce();
  const server = await serveTest(p.plan);
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  let serving = true;
  try {
    const page = await browser.newPage({ viewport: { width: 1000, height: 420 } });
    page.setDefaultTimeout(5000); // an element that never appears fails in seconds, not playwright's 30
    // A refused script (Content-Security-Policy), a script error or a failed request shows here.
    const problems: string[] = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    let documents = 0;
    page.on('request', (r) => { if (r.resourceType() === 'document') documents++; });

    assert.equal((await page.goto(`${server.base}/`))?.status(), 200);
    await until('the page connects to /stream', () => page.locator('#live').textContent(), (t) => t === 'live');
    assert.deepEqual(await page.locator('#nodes tr:not(.detail) td:first-child').allTextContents(), ['cp1', 'w1', 'w2']);
    assert.deepEqual((await row(page, 'w1')).cells, ['w1', 'worker', 'waiting', '0', '-', '-', '']);
    assert.equal((await row(page, 'w1')).detail, '', 'no timeline before the node says anything');

    const auth = { authorization: `Bearer ${p.enrolments.get('w1')}` };
    const post = async (...events: Record<string, unknown>[]): Promise<void> => {
      assert.equal((await raw(server.port, 'POST', '/events/w1', { headers: auth, body: events.map((e) => JSON.stringify(e)).join('\n') })).status, 202);
    };
    await post(event('w1', 'bundle', 'ok'), event('w1', 'layout', 'begin'), event('w1', 'layout', 'retry', { msg: 'disk busy' }));
    const retrying = await until('w1 booting, retrying its layout', () => row(page, 'w1'), (r) => r.cells[4] === 'layout retry');
    assert.equal(retrying.phase, 'booting');
    assert.deepEqual([retrying.cells[2], retrying.cells[3], retrying.cells[6]], ['booting', '1', 'layout retry: disk busy']);
    assert.match(retrying.cells[5]!, /^\d{4}-\d\d-\d\dT/, 'when the server heard it');

    await post(event('w1', 'layout', 'fail', { msg: 'no disk matches /dev/disk/by-id/nvme-*' }));
    const failed = await until('w1 failed', () => row(page, 'w1'), (r) => r.phase === 'failed');
    assert.deepEqual([failed.cells[2], failed.cells[4], failed.cells[6]], ['failed', 'layout fail', 'layout fail: no disk matches /dev/disk/by-id/nvme-*']);
    // Under the row: the boot's timeline, then what the node said last.
    assert.equal(failed.detail, 'bundle ok, layout fail 0s\n10:00:00 layout retry: disk busy\n10:00:00 layout fail: no disk matches /dev/disk/by-id/nvme-*');
    assert.deepEqual((await row(page, 'cp1')).cells.slice(0, 3), ['cp1', 'control-plane', 'waiting'], 'the other rows stay');
    // cloud-init's reporting webhook, as a real node's first words: no Content-Type, the secret in the path.
    const ci = { name: 'init-network/config-ssh', description: 'running config-ssh', event_type: 'start', origin: 'cloudinit', timestamp: Date.now() / 1000 };
    assert.equal((await raw(server.port, 'POST', `/events/cp1/${p.enrolments.get('cp1')}`, { body: JSON.stringify(ci) })).status, 202);
    const cp1 = await until('cp1 booting in cloud-init', () => row(page, 'cp1'), (r) => r.phase === 'booting');
    assert.equal(cp1.cells[4], 'cloud-init/init-network/config-ssh begin');
    // Cells other than the last problem keep to one line (a role, a stage or a time broken over
    // two lines was the first screenshot's flaw): cp1's row is about as high as the header's.
    const height = async (selector: string): Promise<number> => (await page.locator(selector).first().boundingBox())!.height;
    const [cp1Row, header] = [await height('#nodes tr:not(.detail)'), await height('thead tr')];
    assert.ok(cp1Row < header * 1.3, `cp1's row is ${cp1Row} px high, the header ${header} px: a cell broke over two lines`);

    assert.equal((await raw(server.port, 'GET', '/by-mac/52:54:00:60:ff:01/user-data')).status, 404);
    await until('the unknown machine listed', () => page.locator('#unknown').textContent(), (t) => t === 'mac 52:54:00:60:ff:01 from 127.0.0.1 (1x)');
    assert.equal(documents, 1, 'every change came over the stream: the page was loaded once');

    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'serve-live-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.equal(readFileSync(shot).subarray(1, 4).toString(), 'PNG');
    assert.deepEqual(problems, []);

    // The server goes away: the rows stay, and the page says they are no longer current.
    await server.close();
    serving = false;
    const gone = await until('the page says it lost the server', () => page.locator('#live').textContent(), (t) => t?.startsWith('disconnected, retrying') === true);
    assert.match(gone!, /: the table is as of \d{4}-/);
    assert.equal((await row(page, 'w1')).phase, 'failed');
  } finally {
    await browser.close();
    if (serving) await server.close();
  }
});

test('a page beyond the watchers the server allows says it is not live, and why', { skip, timeout: 60_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  const p = await preparedOnce();
  const server = await serveTest(p.plan);
  const held: ClientRequest[] = [];
  const browser = await chromium.launch({ executablePath: CHROMIUM });
  try {
    await Promise.all(Array.from({ length: MAX_WATCHERS }, () => new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/stream' }, (res) => { assert.equal(res.statusCode, 200); resolve(); });
      req.on('error', (e) => (held.includes(req) ? undefined : reject(e)));
      held.push(req);
      req.end();
    })));
    const page = await browser.newPage();
    page.setDefaultTimeout(5000);
    await page.goto(`${server.base}/`);
    // The 503 closes the EventSource for good (WHATWG HTML: a status other than 200 fails the connection).
    await until('the page says the stream was refused', () => page.locator('#live').textContent(), (t) => t === 'not live: the server refused the stream; reload later');
    assert.deepEqual(await page.locator('#nodes tr:not(.detail) td:first-child').allTextContents(), ['cp1', 'w1', 'w2'], 'the rows rendered on the server are there');
  } finally {
    await browser.close();
    for (const req of held) req.destroy();
    await server.close();
  }
});
