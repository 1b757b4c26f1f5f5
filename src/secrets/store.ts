/**
 * Where the secrets bundle lives and how it is read and written: outside the config, mode 0600,
 * checked whole before use. A bundle that is not what it claims (truncated, another cluster's, a
 * certificate its CA did not sign, a key that is not its certificate's, readable by others) is
 * an input error naming the file; nothing is regenerated behind the user's back.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import type { Cluster } from '../config/resolve.ts';
import { imgforgeError } from '../errors/error.ts';
import { SecretsBundle } from './schema.ts';

/** `.imgforge/secrets/<cluster>.yaml` beside the config, or in $IMGFORGE_SECRETS_DIR (secrets kept on another volume). */
export function secretsPath(cluster: Cluster, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env['IMGFORGE_SECRETS_DIR'] ?? join(dirname(cluster.path), '.imgforge', 'secrets');
  return join(dir, `${cluster.config.cluster.name}.yaml`);
}

const der = (k: ReturnType<typeof createPublicKey>): string => k.export({ type: 'spki', format: 'der' }).toString('hex');

/** Every way the bundle's parts could fail to belong together. */
function integrity(b: SecretsBundle): string[] {
  const out: string[] = [];
  const matches = (what: string, cert: string, key: string): void => {
    if (der(new X509Certificate(cert).publicKey) !== der(createPublicKey(createPrivateKey(key)))) out.push(`${what}: the key is not the certificate's`);
  };
  const signedBy = (what: string, cert: string, ca: string): void => {
    const c = new X509Certificate(cert), issuer = new X509Certificate(ca);
    if (!c.verify(issuer.publicKey) || !c.checkIssued(issuer)) out.push(`${what}: not signed by its CA`);
  };
  for (const [name, ck] of Object.entries(b.cas)) {
    matches(`cas.${name}`, ck.cert, ck.key);
    signedBy(`cas.${name}`, ck.cert, ck.cert);
    if (!new X509Certificate(ck.cert).ca) out.push(`cas.${name}: not a CA certificate`);
  }
  if (der(createPublicKey(b.serviceAccount.pub)) !== der(createPublicKey(createPrivateKey(b.serviceAccount.key)))) out.push('serviceAccount: the public key is not the private key\'s');
  const leaves = [
    ...(b.apiserverEtcdClient ? [['apiserverEtcdClient', b.apiserverEtcdClient] as const] : []),
    ...Object.entries(b.etcdMembers).flatMap(([n, m]) => [[`etcdMembers.${n}.server`, m.server], [`etcdMembers.${n}.peer`, m.peer], [`etcdMembers.${n}.healthcheckClient`, m.healthcheckClient]] as const),
  ];
  for (const [what, ck] of leaves) {
    matches(what, ck.cert, ck.key);
    signedBy(what, ck.cert, b.cas.etcd.cert);
  }
  return out;
}

/** Parse and check a bundle's text; `path` names it in errors. */
export function parseSecrets(text: string, path: string): SecretsBundle {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (e) {
    throw imgforgeError('SecretsInvalid', { path, detail: `not YAML (${(e as Error).message.split('\n')[0]})` });
  }
  const r = SecretsBundle.safeParse(value);
  if (!r.success) {
    throw imgforgeError('SecretsInvalid', { path, detail: 'it is not a whole secrets bundle' }, {
      details: r.error.issues.slice(0, 8).map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`),
    });
  }
  let problems: string[];
  try {
    problems = integrity(r.data);
  } catch (e) {
    problems = [`a certificate or key does not parse (${(e as Error).message})`];
  }
  if (problems.length) throw imgforgeError('SecretsInvalid', { path, detail: 'its parts do not belong together' }, { details: problems });
  return r.data;
}

/** The cluster's bundle, checked; undefined when there is none yet. */
export async function loadSecrets(cluster: Cluster): Promise<SecretsBundle | undefined> {
  const path = secretsPath(cluster);
  const st = await stat(path).catch(() => undefined);
  if (!st) return undefined;
  if ((st.mode & 0o077) !== 0) {
    throw imgforgeError('SecretsInvalid', { path, detail: `it is readable by ${st.mode & 0o070 ? 'its group' : 'others'} (mode 0${(st.mode & 0o777).toString(8)}); it holds private keys`, fix: `chmod 600 ${path}` });
  }
  const bundle = parseSecrets(await readFile(path, 'utf8'), path);
  if (bundle.cluster !== cluster.config.cluster.name) {
    throw imgforgeError('SecretsInvalid', { path, detail: `it belongs to cluster "${bundle.cluster}", not "${cluster.config.cluster.name}"` });
  }
  return bundle;
}

const HEADER = '# imgforge secrets: the private keys of a Kubernetes cluster. Keep this file 0600 and out of\n# version control; `imgforge secrets show` lists it without the key bytes.\n';

/** .imgforge/.gitignore keeping git out of the secrets folder, unless one is there already. */
export async function ignoreSecrets(imgforgeDir: string): Promise<void> {
  const ignore = join(imgforgeDir, '.gitignore');
  if (await stat(ignore).catch(() => undefined)) return;
  await mkdir(imgforgeDir, { recursive: true });
  await writeFile(ignore, '# Written by imgforge: cluster secrets never belong in version control.\nsecrets/\n');
}

/**
 * Write a file of secrets whole: 0600 in a 0700 folder (git kept out of .imgforge/secrets), under
 * a temporary name, fsynced, renamed into place, and the folder fsynced (rename(2) is atomic).
 */
export async function writeSecretFile(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  if (dir.endsWith('/.imgforge/secrets')) await ignoreSecrets(dirname(dir));
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const d = await open(dir, 'r');
  await d.sync();
  await d.close();
}

/** Write the bundle whole, 0600 in a 0700 folder, and keep git out of it. */
export async function saveSecrets(cluster: Cluster, bundle: SecretsBundle): Promise<string> {
  const path = secretsPath(cluster);
  await writeSecretFile(path, `${HEADER}${stringify(bundle, { lineWidth: 0 })}`);
  return path;
}
