/**
 * The secrets bundle: one YAML file per cluster (.imgforge/secrets/<cluster>.yaml beside the
 * config, mode 0600), made once by `imgforge secrets init` and reused by every build, so the
 * same bundle, config and SOURCE_DATE_EPOCH give the same seeds and images.
 */
import { z } from 'zod';

export const SECRETS_VERSION = 1;

const Pem = (kind: string) => z.string().regex(new RegExp(`^-----BEGIN ${kind}-----\\n[A-Za-z0-9+/=\\n]+-----END ${kind}-----\\n$`), `must be one PEM ${kind} block`);
const Cert = Pem('CERTIFICATE');
const PrivateKey = z.union([Pem('RSA PRIVATE KEY'), Pem('EC PRIVATE KEY')]);

/** A certificate and its private key. */
export const CertKey = z.strictObject({ cert: Cert, key: PrivateKey });
export type CertKey = z.output<typeof CertKey>;

/** A bootstrap token (cluster-bootstrap token.go: [a-z0-9]{6}.[a-z0-9]{16}) and when it stops working. */
const Token = z.strictObject({
  id: z.string().regex(/^[a-z0-9]{6}$/),
  secret: z.string().regex(/^[a-z0-9]{16}$/),
  expires: z.iso.datetime(),
});
export type Token = z.output<typeof Token>;

export const SecretsBundle = z.strictObject({
  /** Version of this file's shape. */
  imgforgeSecrets: z.literal(SECRETS_VERSION),
  /** The cluster these secrets belong to (cluster.name): a bundle is never used for another. */
  cluster: z.string().min(1),
  algorithm: z.enum(['RSA-2048', 'RSA-3072', 'RSA-4096', 'ECDSA-P256']),
  /** When `imgforge secrets init` made it (ISO 8601). */
  created: z.iso.datetime(),
  /** The three certificate authorities kubeadm would make at `kubeadm init` (ca, front-proxy-ca, etcd/ca). */
  cas: z.strictObject({ cluster: CertKey, frontProxy: CertKey, etcd: CertKey }),
  /** The service-account token signing key pair (sa.key, sa.pub): not a certificate. */
  serviceAccount: z.strictObject({ key: PrivateKey, pub: Pem('PUBLIC KEY') }),
  /** The bootstrap token the nodes join with (kubeadm token format), and when it stops working. */
  token: Token,
  /**
   * Tokens `imgforge secrets rotate-token <node>...` made for nodes flashed after the cluster's
   * token expired, by hostname: such a node joins with its own, and no other node's seed changes.
   */
  nodeTokens: z.record(z.string(), Token).default({}),
  /** keepalived's VRRP authentication password (auth_pass: 8 characters at most, keepalived.conf(5)). */
  vrrpPassword: z.string().regex(/^[A-Za-z0-9]{8}$/),
  /** With external etcd: the client certificate every API server presents to etcd (apiserver-etcd-client). */
  apiserverEtcdClient: CertKey.nullable(),
  /**
   * The etcd members kubeadm will not certify: an etcd member on a worker, and every external etcd
   * node. Each has its server, peer and healthcheck-client certificates, signed by the etcd CA.
   */
  etcdMembers: z.record(z.string(), z.strictObject({ server: CertKey, peer: CertKey, healthcheckClient: CertKey })),
});
export type SecretsBundle = z.output<typeof SecretsBundle>;
