import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { caCertHash } from './ca-hash.ts';
import type { CertKey, SecretsBundle, Token } from './schema.ts';

export interface CertFacts {
  readonly name: string;
  readonly subject: string;
  readonly issuer: string;
  readonly algorithm: string;
  /** SHA-256 of the certificate's DER, as `openssl x509 -fingerprint -sha256` prints it. */
  readonly fingerprint: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly sans: string | null;
}

export interface TokenFacts { readonly id: string; readonly expires: string; readonly expired: boolean }

const tokenFacts = (t: Token, now: number): TokenFacts => ({ id: t.id, expires: t.expires, expired: Date.parse(t.expires) <= now });

/** What `imgforge secrets show` prints: every kind, fingerprint, algorithm and validity, the CA hash, the token's id and expiry; no key bytes. */
export interface SecretsFacts {
  readonly cluster: string;
  readonly algorithm: string;
  readonly created: string;
  readonly caCertHash: string;
  readonly certificates: readonly CertFacts[];
  readonly serviceAccount: { readonly algorithm: string; readonly fingerprint: string };
  readonly token: TokenFacts;
  /** Tokens made for late nodes, by hostname. */
  readonly nodeTokens: Readonly<Record<string, TokenFacts>>;
  readonly vrrpPassword: 'set';
}

const keyAlgorithm = (pem: string): string => {
  const k = createPrivateKey(pem);
  return k.asymmetricKeyType === 'ec' ? `ECDSA ${k.asymmetricKeyDetails?.namedCurve ?? ''}`.trim() : `RSA-${k.asymmetricKeyDetails?.modulusLength ?? '?'}`;
};

function cert(name: string, ck: CertKey): CertFacts {
  const c = new X509Certificate(ck.cert);
  return {
    name, subject: c.subject.replace(/\n/g, ', '), issuer: c.issuer.replace(/\n/g, ', '), algorithm: keyAlgorithm(ck.key),
    fingerprint: c.fingerprint256, notBefore: new Date(c.validFrom).toISOString(), notAfter: new Date(c.validTo).toISOString(), sans: c.subjectAltName ?? null,
  };
}

export function describeSecrets(b: SecretsBundle, now: number): SecretsFacts {
  const certificates = [
    cert('cluster CA (ca.crt)', b.cas.cluster), cert('front-proxy CA (front-proxy-ca.crt)', b.cas.frontProxy), cert('etcd CA (etcd/ca.crt)', b.cas.etcd),
    ...(b.apiserverEtcdClient ? [cert('apiserver-etcd-client', b.apiserverEtcdClient)] : []),
    ...Object.entries(b.etcdMembers).flatMap(([n, m]) => [cert(`${n} etcd server`, m.server), cert(`${n} etcd peer`, m.peer), cert(`${n} etcd healthcheck-client`, m.healthcheckClient)]),
  ];
  return {
    cluster: b.cluster, algorithm: b.algorithm, created: b.created, caCertHash: caCertHash(b.cas.cluster.cert), certificates,
    // A digest of the public half only: the private key's bytes never leave the bundle.
    serviceAccount: { algorithm: keyAlgorithm(b.serviceAccount.key), fingerprint: createHash('sha256').update(createPublicKey(b.serviceAccount.pub).export({ type: 'spki', format: 'der' })).digest('hex') },
    token: tokenFacts(b.token, now),
    nodeTokens: Object.fromEntries(Object.entries(b.nodeTokens).map(([n, t]) => [n, tokenFacts(t, now)])),
    vrrpPassword: 'set',
  };
}
