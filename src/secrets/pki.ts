/**
 * Keys and certificates as kubeadm makes them (kubernetes/kubernetes cmd/kubeadm/app/util/pkiutil,
 * client-go util/cert): keys from node:crypto (OpenSSL, on the libuv pool, in parallel);
 * certificates encoded and signed by @peculiar/x509 on node:crypto's WebCrypto, so no ASN.1 is
 * written by hand. Private keys are PEM as kubeadm writes them: PKCS#1 for RSA, SEC1 for ECDSA.
 */
import 'reflect-metadata';
import { generateKeyPair, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export type Algorithm = 'RSA-2048' | 'RSA-3072' | 'RSA-4096' | 'ECDSA-P256';

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

const generate = promisify(generateKeyPair);

/** A new key of the cluster's algorithm (kubeadm pkiutil.GeneratePrivateKey). */
export async function newKey(alg: Algorithm): Promise<KeyPair> {
  if (alg === 'ECDSA-P256') return generate('ec', { namedCurve: 'P-256' });
  return generate('rsa', { modulusLength: Number(alg.slice(4)) });
}

/** PEM of a private key as kubeadm writes it (client-go keyutil.MarshalPrivateKeyToPEM). */
export function privatePem(key: KeyObject): string {
  return key.export({ type: key.asymmetricKeyType === 'ec' ? 'sec1' : 'pkcs1', format: 'pem' }) as string;
}

/** PEM of a public key, a PKIX "PUBLIC KEY" block (what kubeadm writes for sa.pub). */
export function publicPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }) as string;
}

/** The key's algorithm as WebCrypto names it, for signing with it and for its certificate. */
function webAlgorithm(key: KeyObject): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams {
  return key.asymmetricKeyType === 'ec' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

export interface CertSpec {
  readonly commonName: string;
  readonly organization?: string | undefined;
  readonly dnsNames?: readonly string[];
  readonly ips?: readonly string[];
  readonly usages?: readonly ('serverAuth' | 'clientAuth')[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** A positive serial number: 16 random bytes, the top bit clear (RFC 5280 §4.1.2.2). */
function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

const name = (spec: CertSpec): string => `CN=${spec.commonName}${spec.organization ? `, O=${spec.organization}` : ''}`;

/**
 * A certificate for `subject`'s public key, signed by `issuer` (itself when absent: a CA).
 * A CA is as client-go's NewSelfSignedCACert makes one (basic constraints CA, critical; key usage
 * digitalSignature, keyEncipherment, keyCertSign; a subject key id); a leaf as kubeadm's
 * NewSignedCert (key usage digitalSignature and keyEncipherment; its extended usages; its SANs).
 */
export async function makeCert(spec: CertSpec, subject: KeyPair, issuer?: { readonly cert: string; readonly key: KeyPair }): Promise<string> {
  const ca = issuer === undefined;
  const signer = issuer?.key ?? subject;
  const publicKey = await subject.publicKey.toCryptoKey(webAlgorithm(subject.publicKey), true, ['verify']);
  const signingKey = await signer.privateKey.toCryptoKey(webAlgorithm(signer.privateKey), false, ['sign']);
  const usage = x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | (ca ? x509.KeyUsageFlags.keyCertSign : 0);
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(ca, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
  ];
  if (issuer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(new x509.X509Certificate(issuer.cert)));
  if (spec.usages?.length) extensions.push(new x509.ExtendedKeyUsageExtension(spec.usages.map((u) => x509.ExtendedKeyUsage[u])));
  const names = [...(spec.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })), ...(spec.ips ?? []).map((value) => ({ type: 'ip' as const, value }))];
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(), subject: name(spec), issuer: issuer ? new x509.X509Certificate(issuer.cert).subject : name(spec),
    notBefore: spec.notBefore, notAfter: spec.notAfter, publicKey, signingKey, extensions,
    signingAlgorithm: signer.privateKey.asymmetricKeyType === 'ec' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' },
  });
  return `${cert.toString('pem')}\n`;
}
