// What `imgforge secrets init` makes, judged by OpenSSL: every leaf verifies against its CA,
// SANs and key usages are kubeadm's, the CA hash is what kubeadm and openssl compute, and the
// dates let a board without a battery clock trust them.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCluster } from '../../src/config/index.ts';
import type { Cluster } from '../../src/config/resolve.ts';
import { caCertHash } from '../../src/secrets/ca-hash.ts';
import { createSecrets } from '../../src/secrets/create.ts';
import type { SecretsBundle } from '../../src/secrets/schema.ts';
import { parseSecrets } from '../../src/secrets/store.ts';
import { requireTool, ROOT, tempDir } from '../helpers.ts';

const DAY = 86_400_000;

function openssl(args: string[], input?: string): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8', input });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const withAlgorithm = (c: Cluster, alg: SecretsBundle['algorithm']): Cluster =>
  ({ ...c, config: { ...c.config, cluster: { ...c.config.cluster, encryptionAlgorithm: alg } } }) as Cluster;

/** openssl's own CA hash: SHA-256 of the DER SubjectPublicKeyInfo (kubeadm pubkeypin.Hash). */
function opensslCaHash(certPem: string, dir: string): string {
  const f = join(dir, `hash-${Math.random().toString(36).slice(2)}.crt`);
  writeFileSync(f, certPem);
  const spki = spawnSync('sh', ['-c', 'openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -hex', 'sh', f], { encoding: 'utf8' });
  assert.equal(spki.status, 0, spki.stderr);
  return `sha256:${spki.stdout.trim().split(/\s+/).at(-1)}`;
}

for (const alg of ['RSA-2048', 'ECDSA-P256'] as const) {
  describe(`secrets made with ${alg} for the external-etcd example (every kind of certificate)`, () => {
    let bundle: SecretsBundle;
    const dir = tempDir();
    const made = Date.now();
    before(async () => {
      bundle = await createSecrets(withAlgorithm(await loadCluster(join(ROOT, 'examples/external-etcd.config.ts')), alg), made);
    });

    test('every leaf verifies against the etcd CA with openssl; every CA is self-signed and verifies itself', () => {
      if (!requireTool('openssl')) return;
      for (const [name, ck] of Object.entries(bundle.cas)) {
        writeFileSync(join(dir, `${name}.crt`), ck.cert);
        assert.match(openssl(['verify', '-CAfile', join(dir, `${name}.crt`), join(dir, `${name}.crt`)]), /: OK/);
      }
      const leaves = [bundle.apiserverEtcdClient!, ...Object.values(bundle.etcdMembers).flatMap((m) => [m.server, m.peer, m.healthcheckClient])];
      assert.equal(leaves.length, 1 + 3 * 3, 'apiserver-etcd-client and three certificates for each of the three etcd nodes');
      for (const [i, ck] of leaves.entries()) {
        writeFileSync(join(dir, `leaf${i}.crt`), ck.cert);
        assert.match(openssl(['verify', '-CAfile', join(dir, 'etcd.crt'), join(dir, `leaf${i}.crt`)]), /: OK/);
        assert.doesNotMatch(spawnSync('openssl', ['verify', '-CAfile', join(dir, 'cluster.crt'), join(dir, `leaf${i}.crt`)], { encoding: 'utf8' }).stdout, /: OK/, 'not the cluster CA');
        // The key is the certificate's: same public key from both.
        assert.equal(openssl(['pkey', '-pubout'], ck.key), openssl(['x509', '-noout', '-pubkey'], ck.cert));
      }
    });

    test('CAs: CA:TRUE (critical), keyCertSign, 10 years, back-dated by more than a day; leaves: kubeadm\'s usages and SANs', () => {
      if (!requireTool('openssl')) return;
      for (const ck of Object.values(bundle.cas)) {
        const text = openssl(['x509', '-noout', '-text'], ck.cert);
        assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:TRUE/);
        assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment, Certificate Sign/);
        const dates = openssl(['x509', '-noout', '-startdate', '-enddate'], ck.cert);
        const start = Date.parse(/notBefore=(.*)/.exec(dates)![1]!), end = Date.parse(/notAfter=(.*)/.exec(dates)![1]!);
        assert.ok(made - start > DAY, 'back-dated by more than a day: boards boot in the past until NTP answers');
        assert.ok(Math.abs(end - made - 3650 * DAY) < DAY, 'valid 10 years, as kubeadm\'s CAs');
      }
      const member = bundle.etcdMembers['etcd2']!;
      for (const ck of [member.server, member.peer]) {
        const text = openssl(['x509', '-noout', '-text'], ck.cert);
        assert.match(text, /Subject: CN\s?=\s?etcd2\n/);
        assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
        assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/);
        assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication/);
        // kubeadm pkiutil getAltNames: the node name, localhost, its address and both loopbacks.
        assert.match(text, /DNS:etcd2, DNS:localhost, IP Address:172.16.5.22, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1/);
      }
      for (const [ck, cn] of [[member.healthcheckClient, 'kube-etcd-healthcheck-client'], [bundle.apiserverEtcdClient!, 'kube-apiserver-etcd-client']] as const) {
        const text = openssl(['x509', '-noout', '-text'], ck.cert);
        assert.match(text, new RegExp(`Subject: CN\\s?=\\s?${cn}, O\\s?=\\s?system:masters`));
        assert.match(text, /X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication\n/);
        assert.doesNotMatch(text, /Subject Alternative Name/);
      }
    });

    test('the CA hash is openssl\'s SHA-256 of the CA\'s SubjectPublicKeyInfo', () => {
      if (!requireTool('openssl')) return;
      assert.equal(caCertHash(bundle.cas.cluster.cert), opensslCaHash(bundle.cas.cluster.cert, dir));
      assert.notEqual(caCertHash(bundle.cas.cluster.cert), caCertHash(bundle.cas.etcd.cert));
    });

    test('keys are the configured algorithm, PEM as kubeadm writes them; the token, password and service-account pair are well formed', () => {
      const keyHeader = alg === 'RSA-2048' ? 'RSA PRIVATE KEY' : 'EC PRIVATE KEY';
      for (const ck of Object.values(bundle.cas)) assert.ok(ck.key.startsWith(`-----BEGIN ${keyHeader}-----`));
      if (requireTool('openssl')) {
        const text = openssl(['pkey', '-noout', '-text'], bundle.serviceAccount.key);
        assert.match(text, alg === 'RSA-2048' ? /Private-Key: \(2048 bit/ : /NIST CURVE: P-256/);
        assert.equal(openssl(['pkey', '-pubout'], bundle.serviceAccount.key), bundle.serviceAccount.pub);
      }
      assert.match(`${bundle.token.id}.${bundle.token.secret}`, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
      assert.ok(Math.abs(Date.parse(bundle.token.expires) - made - 168 * 3600_000) < 1000, 'the default TTL, 168h');
      assert.match(bundle.vrrpPassword, /^[A-Za-z0-9]{8}$/);
      // What init writes reads back whole.
      assert.deepEqual(parseSecrets(JSON.stringify(bundle), 'x.yaml'), bundle);
    });
  });
}

test('two bundles share nothing: keys, serials, tokens and passwords are fresh each time', async () => {
  const cluster = withAlgorithm(await loadCluster(join(ROOT, 'images.config.ts')), 'ECDSA-P256');
  const [a, b] = await Promise.all([createSecrets(cluster, Date.now()), createSecrets(cluster, Date.now())]);
  assert.notEqual(a.cas.cluster.key, b.cas.cluster.key);
  assert.notEqual(a.token.secret, b.token.secret);
  assert.notEqual(a.vrrpPassword, b.vrrpPassword);
  assert.notEqual(caCertHash(a.cas.cluster.cert), caCertHash(b.cas.cluster.cert));
  assert.deepEqual(Object.keys(a.etcdMembers), ['worker01'], 'the root example\'s one etcd member that is not a control plane');
});
