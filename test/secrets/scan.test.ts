// The raw-bytes key finder behind `imgforge audit`: every encoding, anywhere, across piece seams,
// each key once, and nothing reported from bytes that only look like a header.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { KeyScanner } from '../../src/audit/scan.ts';
import { keyId } from '../../src/audit/classify.ts';
import { createSecrets } from '../../src/secrets/create.ts';
import { loadCluster } from '../../src/config/index.ts';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const der = (k: typeof rsa.privateKey, type: 'pkcs1' | 'pkcs8' | 'sec1'): Buffer => k.export({ type, format: 'der' }) as Buffer;
const pem = (k: typeof rsa.privateKey, type: 'pkcs1' | 'pkcs8' | 'sec1'): Buffer => Buffer.from(k.export({ type, format: 'pem' }) as string);

/** Feed `data` in pieces of the given sizes, cycling. */
function scan(data: Buffer, sizes: readonly number[]): KeyScanner {
  const s = new KeyScanner();
  for (let pos = 0, i = 0; pos < data.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, data.length - pos);
    s.feed(data.subarray(pos, pos + n), pos);
    pos += n;
  }
  return s;
}

test('every encoding of a key is found at its exact odd offset, also where it straddles a seam between pieces', () => {
  const data = randomBytes(8 << 20);
  const plants: [number, Buffer, string, string][] = [
    [1_000_003, der(rsa.privateKey, 'pkcs1'), 'der', 'pkcs1'],
    [(1 << 20) - 700, der(rsa.privateKey, 'pkcs8'), 'der', 'pkcs8'], // across the first 1 MiB seam
    [3_000_011, der(ec.privateKey, 'sec1'), 'der', 'sec1'],
    [(3 << 20) - 50, der(ec.privateKey, 'pkcs8'), 'der', 'pkcs8'],
    [5_000_001, der(ed.privateKey, 'pkcs8'), 'der', 'pkcs8'],
    [(5 << 20) - 900, pem(rsa.privateKey, 'pkcs1'), 'pem', 'pkcs1'],
    [7_000_013, pem(ec.privateKey, 'sec1'), 'pem', 'sec1'],
  ];
  for (const [at, bytes] of plants) bytes.copy(data, at);
  for (const sizes of [[1 << 20], [4096, 65536, 1 << 20, 333], [data.length]]) {
    const s = scan(data, sizes);
    s.keys.sort((a, b) => a.offset - b.offset);
    assert.deepEqual(s.keys.map((k) => [k.offset, k.encoding, k.format]), plants.map(([at, , e, f]) => [at, e, f]), `pieces of ${sizes.join('/')}`);
    const expected = [rsa, rsa, ec, ec, ed, rsa, ec].map((k) => keyId(k.privateKey));
    assert.deepEqual(s.keys.map((k) => keyId(k.key!)), expected, 'each key is the one planted');
  }
});

test('a PKCS#8 key is reported once, not again for the PKCS#1 or SEC1 key inside it', () => {
  for (const k of [rsa, ec]) {
    const s = scan(Buffer.concat([randomBytes(100), der(k.privateKey, 'pkcs8'), randomBytes(100)]), [1 << 20]);
    assert.equal(s.keys.length, 1);
    assert.equal(s.keys[0]!.format, 'pkcs8');
  }
});

test('certificates are told apart from keys; OpenSSH and encrypted keys are reported though they cannot be read', async () => {
  const bundle = await createSecrets(await loadCluster(join(ROOT, 'test/fixtures/minimal.config.mjs')), Date.now());
  const enc = Buffer.from(ec.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }) as string);
  const ssh = Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----\n');
  const s = scan(Buffer.concat([Buffer.from(bundle.cas.cluster.cert), randomBytes(77), enc, Buffer.from(bundle.serviceAccount.pub), ssh]), [1 << 20]);
  assert.equal(s.certs.length, 1);
  assert.ok(s.certs[0]!.cert.ca);
  assert.deepEqual(s.keys.map((k) => [k.format, k.key]), [['encrypted', null], ['openssh', null]], 'a public key is not a private key');
});

test('random bytes and bytes shaped like key headers are not keys', () => {
  const data = randomBytes(32 << 20);
  // Headers that parse as far as their length, then are not keys.
  for (let at = 12345; at < data.length; at += 1_048_573) {
    Buffer.from('308204a4020100028201', 'hex').copy(data, at);
    Buffer.from('30770201010420', 'hex').copy(data, at + 5000);
    Buffer.from('-----BEGIN RSA PRIVATE KEY-----\nnot base64 at all!\n-----END RSA PRIVATE KEY-----\n').copy(data, at + 9000);
  }
  const s = scan(data, [1 << 20]);
  assert.deepEqual(s.keys, []);
});

test('a version field at a piece\'s very end (what follows it is in the next piece) is no error, and a key there is still found', () => {
  // "02 01 00" ends the first piece: the bytes telling what follows lie past its end.
  const data = randomBytes(3 << 20);
  Buffer.from('020100', 'hex').copy(data, (1 << 20) - 3);
  const key = der(rsa.privateKey, 'pkcs8');
  key.copy(data, (2 << 20) - 6); // its version field (02 01 00, at 4) straddles the second seam, its algorithm after it
  const s = scan(data, [1 << 20]);
  assert.deepEqual(s.keys.map((k) => [k.offset, k.format]), [[(2 << 20) - 6, 'pkcs8']]);
});
