/**
 * What a private key found in an image is, by its public half: one of the cluster's keys (from the
 * secrets bundle when there is one), the key of a CA certificate found beside it, or by the file
 * name kubeadm gives it (etc/kubernetes/pki, kubeadm "PKI certificates and requirements").
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { SecretsBundle } from '../secrets/schema.ts';
import type { FoundCert, FoundKey } from './scan.ts';

export interface KeyClass {
  /** What the key is, in words: "cluster CA key", "etcd server key of worker01", "private key". */
  readonly kind: string;
  /** A node that is not a control plane must never hold it: it mints credentials (a CA or the service-account signer) or is etcd's root client. */
  readonly controlPlaneOnly: boolean;
}

/** SHA-256 of the key's DER SubjectPublicKeyInfo: the same for a private key and its certificate. */
export const keyId = (key: KeyObject): string =>
  createHash('sha256').update((key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' })).digest('hex');

const BY_PATH: Readonly<Record<string, KeyClass>> = {
  'etc/kubernetes/pki/ca.key': { kind: 'cluster CA key', controlPlaneOnly: true },
  'etc/kubernetes/pki/front-proxy-ca.key': { kind: 'front-proxy CA key', controlPlaneOnly: true },
  'etc/kubernetes/pki/etcd/ca.key': { kind: 'etcd CA key', controlPlaneOnly: true },
  'etc/kubernetes/pki/sa.key': { kind: 'service-account signing key', controlPlaneOnly: true },
  'etc/kubernetes/pki/apiserver-etcd-client.key': { kind: 'apiserver-etcd-client key', controlPlaneOnly: true },
};

/** The same key wherever it is found: its key id, or (unreadable) its bytes' place. */
export const identity = (found: FoundKey): string => (found.key ? keyId(found.key) : `${found.format}@${found.offset}`);

/** The cluster's keys by key id, from its secrets bundle. */
export function bundleKeys(bundle: SecretsBundle): Map<string, KeyClass> {
  const known = new Map<string, KeyClass>();
  const add = (pem: string, kind: string, controlPlaneOnly: boolean): void => { known.set(keyId(createPublicKey(pem)), { kind, controlPlaneOnly }); };
  add(bundle.cas.cluster.key, 'cluster CA key', true);
  add(bundle.cas.frontProxy.key, 'front-proxy CA key', true);
  add(bundle.cas.etcd.key, 'etcd CA key', true);
  add(bundle.serviceAccount.key, 'service-account signing key', true);
  if (bundle.apiserverEtcdClient) add(bundle.apiserverEtcdClient.key, 'apiserver-etcd-client key', true);
  for (const [host, m] of Object.entries(bundle.etcdMembers)) {
    add(m.server.key, `etcd server key of ${host}`, false);
    add(m.peer.key, `etcd peer key of ${host}`, false);
    add(m.healthcheckClient.key, `etcd healthcheck-client key of ${host}`, false);
  }
  return known;
}

/** CA certificates found in the same bytes, by the key id of their public key. */
export function caKeys(certs: readonly FoundCert[]): Map<string, KeyClass> {
  const out = new Map<string, KeyClass>();
  for (const { cert } of certs) {
    if (!cert.ca) continue;
    const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? cert.subject;
    out.set(keyId(cert.publicKey), { kind: `CA key (${cn})`, controlPlaneOnly: true });
  }
  return out;
}

/** "RSA-2048", "ECDSA P-256", "Ed25519", or what the encoding says when the key cannot be read. */
export function algorithm(found: FoundKey): string {
  const k = found.key;
  if (!k) return found.format === 'openssh' ? 'OpenSSH' : 'encrypted';
  if (k.asymmetricKeyType === 'rsa') return `RSA-${k.asymmetricKeyDetails?.modulusLength ?? '?'}`;
  if (k.asymmetricKeyType === 'ec') return `ECDSA ${k.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'P-256' : k.asymmetricKeyDetails?.namedCurve ?? ''}`.trim();
  return k.asymmetricKeyType === 'ed25519' ? 'Ed25519' : (k.asymmetricKeyType ?? 'unknown');
}

/** What a found key is: by key id first (bundle, then CA certificates), then by path, else unknown. */
export function classify(found: FoundKey, known: ReadonlyMap<string, KeyClass>, path?: string): KeyClass {
  const byId = found.key ? known.get(keyId(found.key)) : undefined;
  if (byId) return byId;
  if (path && BY_PATH[path]) return BY_PATH[path];
  if (found.format === 'openssh') return { kind: 'OpenSSH private key', controlPlaneOnly: false };
  if (found.format === 'encrypted') return { kind: 'encrypted private key', controlPlaneOnly: false };
  return { kind: 'private key', controlPlaneOnly: false };
}
