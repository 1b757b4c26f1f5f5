import { createHash, X509Certificate } from 'node:crypto';

/**
 * What a joining node pins the API server's CA by: "sha256:" and the hex SHA-256 of the CA
 * certificate's DER SubjectPublicKeyInfo (kubeadm util/pubkeypin: sha256.Sum256(RawSubjectPublicKeyInfo)),
 * for RSA and ECDSA keys alike.
 */
export function caCertHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}
