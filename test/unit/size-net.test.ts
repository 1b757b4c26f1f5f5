import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, parseAmount, parseBytes } from '../../src/util/size.ts';
import { contains, overlaps, parseCidr, parseIp, parseRange, inRange, networkOf } from '../../src/util/net.ts';

test('sizes: IEC and SI units, shares and rest', () => {
  assert.equal(parseBytes('64GiB'), 64 * 2 ** 30);
  assert.equal(parseBytes('1TB'), 1e12, 'disk vendors sell SI units');
  assert.equal(parseBytes('512'), 512);
  assert.equal(parseBytes('1.5G'), 1.5e9);
  for (const bad of ['', 'GiB', '12Q', '-5', '0', '1e3']) assert.equal(parseBytes(bad), undefined, bad);
  assert.deepEqual(parseAmount('50%'), { kind: 'percent', percent: 50 });
  assert.deepEqual(parseAmount('rest'), { kind: 'rest' });
  assert.deepEqual(parseAmount(4096), { kind: 'bytes', bytes: 4096 });
  for (const bad of ['0%', '150%', 0, -1, 1.5, 'half']) assert.equal(parseAmount(bad), undefined, String(bad));
  assert.equal(formatBytes(64 * 2 ** 30), '64GiB');
  assert.equal(formatBytes(1e12), '931.32GiB');
});

test('addresses: strict forms only, CIDR containment and overlap', () => {
  assert.equal(parseIp('192.168.1.10'), '192.168.1.10');
  assert.equal(parseIp('1.2.3'), undefined, 'legacy shorthand is not an address anyone means');
  assert.equal(parseIp('fd00::1'), 'fd00::1');
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('192.168.1.300/24'), undefined);
  assert.equal(parseCidr('192.168.1.10'), undefined, 'a prefix is required');
  const lan = parseCidr('192.168.1.11/24')!;
  assert.equal(networkOf(lan), '192.168.1.0/24');
  assert.ok(contains(lan, '192.168.1.200'));
  assert.ok(!contains(lan, '192.168.2.1'));
  assert.ok(!contains(lan, 'fd00::1'), 'families never match');
  assert.ok(overlaps(parseCidr('192.168.0.0/16')!, lan));
  assert.ok(!overlaps(parseCidr('10.244.0.0/16')!, parseCidr('10.96.0.0/12')!));
  assert.ok(overlaps(parseCidr('10.96.0.0/12')!, parseCidr('10.100.0.0/16')!));
});

test('MetalLB ranges: CIDRs and a-b ranges', () => {
  assert.deepEqual(parseRange('192.168.1.240/28'), { first: '192.168.1.240', last: '192.168.1.255' });
  const r = parseRange('192.168.1.240-192.168.1.250')!;
  assert.ok(inRange(r, '192.168.1.245') && !inRange(r, '192.168.1.251') && inRange(r, '192.168.1.250'));
  assert.equal(parseRange('192.168.1.250-192.168.1.240'), undefined, 'reversed');
  assert.equal(parseRange('192.168.1.1-fd00::1'), undefined, 'mixed families');
});
