/**
 * Enrolment secrets: what a node shows `imgforge serve` to be given its secrets tar and to post
 * its events. One random key per cluster, kept beside the cluster's secrets bundle
 * (`<secrets dir>/<cluster>.serve-key`, 0600), and each node's secret derived from it with
 * HMAC-SHA256 over the cluster and hostname: no per-node state, the same secret after a restart,
 * and a node added to the config has one at once. Removing the key file revokes every node's.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Cluster } from '../config/resolve.ts';
import { imgforgeError } from '../errors/error.ts';
import { secretsPath, writeSecretFile } from './store.ts';

/** Hex digits in an enrolment secret: 128 bits, URL-, shell- and kernel-command-line-safe. */
export const ENROLMENT_HEX = 32;
const KEY_HEX = 64;
const HEADER = '# imgforge serve: the key every node\'s enrolment secret derives from. Keep it 0600 and out of\n# version control; removing it revokes every enrolled seed URL.\n';

/** The node's enrolment secret (pure): HMAC-SHA256(key, "imgforge-enrolment-v1\0<cluster>\0<hostname>"), cut to 128 bits. */
export function enrolmentSecret(key: Buffer, cluster: string, hostname: string): string {
  return createHmac('sha256', key).update(`imgforge-enrolment-v1\0${cluster}\0${hostname}`).digest('hex').slice(0, ENROLMENT_HEX);
}

/** What the server keeps of a secret, so that a plan holds none: its SHA-256. */
export const proofOf = (secret: string): string => createHash('sha256').update(secret).digest('hex');

/** Does a presented secret match a proof? Compared in constant time (the hashes have equal length). */
export function proves(presented: string | undefined, proof: string): boolean {
  if (presented === undefined || !new RegExp(`^[0-9a-f]{${ENROLMENT_HEX}}$`).test(presented)) return false;
  return timingSafeEqual(Buffer.from(proofOf(presented), 'hex'), Buffer.from(proof, 'hex'));
}

/** `<secrets dir>/<cluster>.serve-key`, beside the bundle (and moved with it by $IMGFORGE_SECRETS_DIR). */
export const serveKeyPath = (cluster: Cluster): string => join(dirname(secretsPath(cluster)), `${cluster.config.cluster.name}.serve-key`);

/** The cluster's enrolment key: read and checked, or made (random, written whole, 0600) on first use. */
export async function loadServeKey(cluster: Cluster): Promise<{ key: Buffer; path: string; made: boolean }> {
  const path = serveKeyPath(cluster);
  const st = await stat(path).catch(() => undefined);
  if (st) {
    if ((st.mode & 0o077) !== 0) {
      throw imgforgeError('ServeKeyInvalid', { path, detail: `it is readable by ${st.mode & 0o070 ? 'its group' : 'others'} (mode 0${(st.mode & 0o777).toString(8)})` });
    }
    const hex = (await readFile(path, 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
    if (hex.length !== 1 || !new RegExp(`^[0-9a-f]{${KEY_HEX}}$`).test(hex[0]!)) {
      throw imgforgeError('ServeKeyInvalid', { path, detail: `it does not hold one key of ${KEY_HEX} hex digits` });
    }
    return { key: Buffer.from(hex[0]!, 'hex'), path, made: false };
  }
  const key = randomBytes(KEY_HEX / 2);
  await writeSecretFile(path, `${HEADER}${key.toString('hex')}\n`);
  return { key, path, made: true };
}
