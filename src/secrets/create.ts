/**
 * Making the secrets: the three CAs, the service-account key pair, the bootstrap token, the VRRP
 * password, and the certificates kubeadm will not issue. All keys are made at once on the libuv
 * pool, so a cluster's ten RSA keys take about as long as the slowest few.
 */
import { randomInt } from 'node:crypto';
import type { Cluster } from '../config/resolve.ts';
import { makeCert, newKey, privatePem, publicPem, type Algorithm, type KeyPair } from './pki.ts';
import { SECRETS_VERSION, type CertKey, type SecretsBundle, type Token } from './schema.ts';
import { certifiedMembers, memberNames, type CertifiedMember } from './scope.ts';

const DAY_MS = 86_400_000;
/** CAs live 10 years, as kubeadm's (constants.CACertificateValidityPeriod); leaves 1 year (CertificateValidityPeriod). */
const CA_DAYS = 3650;
const LEAF_DAYS = 365;
/**
 * Back-dating: a board without a battery clock boots in the past until NTP answers. kubeadm
 * back-dates its CAs by 5 minutes and its leaves copy the CA's notBefore (pkiutil.NewSignedCert);
 * imgforge back-dates by two days.
 */
const BACKDATE_MS = 2 * DAY_MS;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** Random characters from a set, uniformly (crypto.randomInt has no modulo bias). */
const random = (n: number, set = ALPHABET): string => Array.from({ length: n }, () => set[randomInt(set.length)]).join('');

/** A bootstrap token (cluster-bootstrap token.go: [a-z0-9]{6}.[a-z0-9]{16}) that expires ttl seconds from now. */
export function newToken(ttlSeconds: number, now: number): Token {
  return { id: random(6), secret: random(16), expires: new Date(now + ttlSeconds * 1000).toISOString() };
}

const pair = async (cert: Promise<string>, key: KeyPair): Promise<CertKey> => ({ cert: await cert, key: privatePem(key.privateKey) });

async function ca(commonName: string, key: KeyPair, now: number): Promise<{ certKey: CertKey; key: KeyPair }> {
  const cert = await makeCert({ commonName, notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + CA_DAYS * DAY_MS) }, key);
  return { certKey: { cert, key: privatePem(key.privateKey) }, key };
}

/** The etcd server, peer and healthcheck-client certificates of one member, as kubeadm's certlist makes them. */
export async function issueMember(alg: Algorithm, etcdCa: { cert: string; key: KeyPair }, m: CertifiedMember, now: number): Promise<SecretsBundle['etcdMembers'][string]> {
  const [server, peer, health] = await Promise.all([newKey(alg), newKey(alg), newKey(alg)]);
  const dates = { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + LEAF_DAYS * DAY_MS) };
  const names = memberNames(m);
  const both = ['serverAuth', 'clientAuth'] as const;
  return {
    server: await pair(makeCert({ commonName: m.hostname, ...names, usages: both, ...dates }, server, etcdCa), server),
    peer: await pair(makeCert({ commonName: m.hostname, ...names, usages: both, ...dates }, peer, etcdCa), peer),
    healthcheckClient: await pair(makeCert({ commonName: 'kube-etcd-healthcheck-client', organization: 'system:masters', usages: ['clientAuth'], ...dates }, health, etcdCa), health),
  };
}

/** A whole new bundle for the cluster. */
export async function createSecrets(cluster: Cluster, now: number): Promise<SecretsBundle> {
  const c = cluster.config.cluster;
  const alg = c.encryptionAlgorithm;
  const external = c.etcd.topology === 'external';
  const [clusterKey, frontKey, etcdKey, saKey, clientKey] = await Promise.all([newKey(alg), newKey(alg), newKey(alg), newKey(alg), external ? newKey(alg) : undefined]);
  const [clusterCa, frontCa, etcdCa] = await Promise.all([ca('kubernetes', clusterKey, now), ca('front-proxy-ca', frontKey, now), ca('etcd-ca', etcdKey, now)]);
  const signer = { cert: etcdCa.certKey.cert, key: etcdCa.key };
  const members = await Promise.all(certifiedMembers(cluster).map(async (m) => [m.hostname, await issueMember(alg, signer, m, now)] as const));
  const apiserverEtcdClient = clientKey ? await pair(makeCert({
    commonName: 'kube-apiserver-etcd-client', organization: 'system:masters', usages: ['clientAuth'],
    notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + LEAF_DAYS * DAY_MS),
  }, clientKey, signer), clientKey) : null;
  return {
    imgforgeSecrets: SECRETS_VERSION, cluster: c.name, algorithm: alg, created: new Date(now).toISOString(),
    cas: { cluster: clusterCa.certKey, frontProxy: frontCa.certKey, etcd: etcdCa.certKey },
    serviceAccount: { key: privatePem(saKey.privateKey), pub: publicPem(saKey.publicKey) },
    token: newToken(c.bootstrapTokenTtl, now),
    nodeTokens: {},
    vrrpPassword: random(8, `${ALPHABET}ABCDEFGHIJKLMNOPQRSTUVWXYZ`),
    apiserverEtcdClient,
    etcdMembers: Object.fromEntries(members),
  };
}
