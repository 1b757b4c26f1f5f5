// The serve plan and the request matching, pure: no socket. What a request may have is decided
// here, so every refusal is exact: identifiers are public, secrets need the node's own proof.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListen, serveUrl } from '../../src/cli/commands/serve.ts';
import { isImgforgeError } from '../../src/errors/error.ts';
import { describeServe, planServe, type NodeSeeds, type ServeOptions } from '../../src/plan/serve.ts';
import { badTarget, normaliseMac, redactPath, resolveFile, resolvePoster } from '../../src/plan/serve-match.ts';
import { enrolmentSecret, proves } from '../../src/secrets/enrolment.ts';

const KEY = Buffer.alloc(32, 7);
const SECRET_A = enrolmentSecret(KEY, 'c', 'a'), SECRET_B = enrolmentSecret(KEY, 'c', 'b');
const seed = (name: string, tag: string): NodeSeeds['open'] => [
  { name: 'user-data', content: `#cloud-config\n# ${name} ${tag}\n` }, { name: 'meta-data', content: `instance-id: ${name}-${tag}\n` },
  { name: 'vendor-data', content: '' }, { name: 'imgforge-bundle.tar', content: Buffer.from(`bundle ${name}`) }, { name: 'imgforge-secrets.tar', content: Buffer.from(`KEY of ${name}`) },
];
const seeds: NodeSeeds[] = [
  { hostname: 'a', role: 'control-plane', mac: '52:54:00:00:00:0a', serial: 'SER A', uuid: '4c4c4544-0042-3510-8052-b4c04f4e3231', enrolment: SECRET_A, open: seed('a', 'open'), enrolled: seed('a', 'enrolled') },
  { hostname: 'b', role: 'worker', mac: null, serial: null, uuid: null, enrolment: SECRET_B, open: seed('b', 'open'), enrolled: seed('b', 'enrolled') },
];
const options: ServeOptions = { listen: { host: '10.0.0.5', port: 8080 }, url: 'http://10.0.0.5:8080', tls: false, stateDir: '/s',
  limits: { bodyBytes: 1024, perMinute: 60, burst: 10, unknownMax: 5 }, staleAfterSeconds: 60, approveFirst: false };
const plan = planServe('c', seeds, options);

test('enrolment secrets: 128 bits, per cluster and host, checked only against their hash', () => {
  assert.match(SECRET_A, /^[0-9a-f]{32}$/);
  assert.notEqual(SECRET_A, SECRET_B);
  assert.notEqual(SECRET_A, enrolmentSecret(KEY, 'other', 'a'), 'another cluster, another secret');
  assert.notEqual(SECRET_A, enrolmentSecret(Buffer.alloc(32, 8), 'c', 'a'), 'another key, another secret');
  assert.ok(proves(SECRET_A, plan.nodes[0]!.proof));
  assert.ok(!proves(SECRET_B, plan.nodes[0]!.proof) && !proves(undefined, plan.nodes[0]!.proof) && !proves(SECRET_A.toUpperCase(), plan.nodes[0]!.proof));
});

test('the plan prints as JSON without file contents or secrets; --reveal adds the enrolled seed URLs', () => {
  const text = JSON.stringify(describeServe(plan));
  for (const leak of [SECRET_A, SECRET_B, 'KEY of', '#cloud-config']) assert.ok(!text.includes(leak), leak);
  const printed = JSON.parse(text) as { nodes: { hostname: string; enrolledSeedUrl: string | null; open: { name: string; needs: string; logged: boolean }[]; enrolled: { needs: string }[] }[]; routes: unknown[] };
  assert.equal(printed.nodes[0]!.enrolledSeedUrl, null);
  assert.deepEqual(printed.nodes[0]!.open.filter((f) => f.needs !== 'nothing').map((f) => f.name), ['imgforge-secrets.tar']);
  assert.ok(printed.nodes[0]!.open.find((f) => f.name === 'imgforge-secrets.tar')!.logged);
  assert.ok(printed.nodes[0]!.enrolled.every((f) => f.needs === 'enrolment secret'));
  const revealed = describeServe(plan, new Map([['a', SECRET_A], ['b', SECRET_B]])) as { nodes: { enrolledSeedUrl: string }[] };
  assert.equal(revealed.nodes[0]!.enrolledSeedUrl, `http://10.0.0.5:8080/nodes/a/${SECRET_A}/`, 'ends in "/": cloud-init < 23.1 appends the file name as is');
  assert.deepEqual(planServe('c', seeds, options), plan, 'the same inputs, the same plan');
});

test('warnings: secrets over plain http are never fetched by the bootstrap; a loopback URL; no rate limit', () => {
  assert.match(plan.warnings.join('\n'), /https only, so a, b get no secrets/);
  assert.deepEqual(planServe('c', seeds, { ...options, tls: true }).warnings, []);
  const loop = planServe('c', seeds, { ...options, tls: true, url: 'https://127.0.0.1:8443', limits: { ...options.limits, perMinute: 0 } }).warnings;
  assert.equal(loop.length, 2);
});

test('a node\'s open files by any identifier; its secrets never by an identifier alone', () => {
  const get = (by: 'hostname' | 'mac' | 'serial' | 'uuid', value: string, name: string, bearer?: string, enrolment?: string) => resolveFile(plan, { by, value }, enrolment, name, bearer);
  for (const [by, value] of [['hostname', 'a'], ['mac', '52-54-00-00-00-0A'], ['serial', 'SER A'], ['uuid', '4C4C4544-0042-3510-8052-B4C04F4E3231']] as const) {
    const r = get(by, value, 'user-data');
    assert.equal(r.status, 200, `${by} ${value}`);
    assert.equal(r.status === 200 && r.file.content, '#cloud-config\n# a open\n');
    assert.equal(get(by, value, 'imgforge-secrets.tar').status, 401, `${by}: no proof`);
    assert.equal(get(by, value, 'imgforge-secrets.tar', SECRET_B).status, 403, `${by}: b's secret is not a's`);
    const ok = get(by, value, 'imgforge-secrets.tar', SECRET_A);
    assert.ok(ok.status === 200 && ok.proof === 'bearer' && ok.file.secret);
  }
  const enrolled = get('hostname', 'a', 'imgforge-secrets.tar', undefined, SECRET_A);
  assert.ok(enrolled.status === 200 && enrolled.proof === 'path');
  const enrolledSeed = get('hostname', 'a', 'user-data', undefined, SECRET_A);
  assert.ok(enrolledSeed.status === 200 && enrolledSeed.file.content === '#cloud-config\n# a enrolled\n', 'the enrolled path serves the enrolled rendering');
  assert.equal(get('hostname', 'a', 'user-data', undefined, SECRET_B).status, 403, 'b\'s secret in a\'s path');
  assert.equal(get('hostname', 'b', 'user-data', undefined, 'f'.repeat(32)).status, 403);
});

test('unknown identifiers are 404 with what to list; malformed ones 400; unknown files 404 listing nothing', () => {
  assert.deepEqual(resolveFile(plan, { by: 'mac', value: 'AA:BB:CC:DD:EE:FF' }, undefined, 'user-data', undefined), { status: 404, reason: 'no node has mac aa:bb:cc:dd:ee:ff', unknown: { by: 'mac', value: 'aa:bb:cc:dd:ee:ff' } });
  for (const [by, value] of [['mac', 'aa:bb:cc'], ['mac', 'aa:bb-cc:dd:ee:ff'], ['uuid', 'nope'], ['serial', ''], ['serial', 'x'.repeat(65)], ['hostname', 'UPPER']] as const) {
    assert.equal(resolveFile(plan, { by, value }, undefined, 'user-data', undefined).status, 400, `${by} ${value}`);
  }
  assert.deepEqual(resolveFile(plan, { by: 'hostname', value: 'a' }, undefined, 'network-config', undefined), { status: 404, reason: 'a\'s seed has no file "network-config"', unknown: null });
  assert.equal(normaliseMac('525400ABCDEF'), '52:54:00:ab:cd:ef');
});

test('events: only with the node\'s own secret, in the path or as a bearer token', () => {
  assert.equal(resolvePoster(plan, 'a', undefined, SECRET_A).status, 200);
  assert.equal(resolvePoster(plan, 'a', SECRET_A, undefined).status, 200);
  assert.equal(resolvePoster(plan, 'a', undefined, undefined).status, 401);
  assert.equal(resolvePoster(plan, 'a', undefined, SECRET_B).status, 403);
  assert.equal(resolvePoster(plan, 'zz', undefined, SECRET_A).status, 404);
});

test('request targets: climbing, encoded separators and control characters refused; secrets redacted from logged paths', () => {
  for (const bad of ['/nodes/a/../b/user-data', '/nodes/a/%2e%2e/b/user-data', '/nodes/a%2fb/user-data', '/nodes/a/.%2Fuser-data', '/nodes/a\\b', '/nodes/a/%00', '/nodes/a/%zz', 'http://h/nodes/a/user-data', '/./status.json']) {
    assert.notEqual(badTarget(bad), null, bad);
  }
  for (const good of ['/nodes/a/user-data', '/by-serial/SER%20A/meta-data', '/status.json?x=1']) assert.equal(badTarget(good), null, good);
  assert.equal(redactPath(`/nodes/a/${SECRET_A}/user-data`), '/nodes/a/<enrolment>/user-data');
  assert.equal(redactPath(`/events/a/${SECRET_A}`), '/events/a/<enrolment>');
});

test('--listen and --url: nodes must be told an address they can reach', () => {
  assert.deepEqual(parseListen('192.168.1.5:8080'), { host: '192.168.1.5', port: 8080 });
  assert.deepEqual(parseListen('[fd00::5]:8443'), { host: 'fd00::5', port: 8443 });
  assert.deepEqual(parseListen(':8080'), { host: '0.0.0.0', port: 8080 });
  assert.equal(serveUrl({ host: 'fd00::5', port: 8443 }, true, undefined), 'https://[fd00::5]:8443');
  assert.equal(serveUrl({ host: '0.0.0.0', port: 8080 }, false, 'http://seed.lan:8080/'), 'http://seed.lan:8080');
  const refused = (f: () => unknown, re: RegExp): void => assert.throws(f, (e: unknown) => isImgforgeError(e) && e.code === 'BadFlag' && re.test(e.message));
  refused(() => parseListen('8080'), /ADDRESS:PORT/);
  refused(() => parseListen('1.2.3.4:70000'), /ADDRESS:PORT/);
  refused(() => serveUrl({ host: '0.0.0.0', port: 8080 }, false, undefined), /--url is needed/);
  refused(() => serveUrl({ host: '127.0.0.1', port: 0 }, false, undefined), /--url is needed/);
  refused(() => serveUrl({ host: '1.2.3.4', port: 1 }, false, 'http://h/seed'), /no path/);
  refused(() => serveUrl({ host: '1.2.3.4', port: 1 }, true, 'http://h:1'), /speaks https/);
});
