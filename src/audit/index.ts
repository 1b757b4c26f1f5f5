/**
 * imgforge audit: every private key an image, a seed folder or a render tree carries, by kind
 * and by the node's role, and the rules the secrets scoping promises (kubeadm's manual
 * certificate distribution: only control planes hold the CA and service-account keys). A
 * violation: a node other than a control plane with a CA key, the service-account signing key
 * or etcd's root client key; a key file readable by group or others.
 */
import { stat } from 'node:fs/promises';
import { imgforgeError } from '../errors/error.ts';
import { NodeDoc } from '../protocol/node-doc.ts';
import type { SecretsBundle } from '../secrets/schema.ts';
import { algorithm, bundleKeys, caKeys, classify, identity } from './classify.ts';
import { scanFolder, scanImage, type Hit, type Scanned } from './sources.ts';

export interface AuditedKey {
  readonly kind: string;
  readonly algorithm: string;
  /** A partition (raw bytes) or a file ("CIDATA/imgforge-secrets.tar:etc/kubernetes/pki/ca.key"). */
  readonly where: string;
  readonly offset: number;
  /** The file's mode as octal text ("0600"); null for raw bytes, where no file says. */
  readonly mode: string | null;
  readonly encoding: 'pem' | 'der';
}

export interface AuditReport {
  readonly target: string;
  readonly type: 'image' | 'folder';
  readonly node: string | null;
  readonly role: string | null;
  readonly cluster: string | null;
  /** Whether keys were named against the cluster's secrets bundle (else by CA certificates found and by path). */
  readonly bundle: boolean;
  readonly keys: readonly AuditedKey[];
  readonly violations: readonly string[];
  readonly ok: boolean;
}

const octal = (mode: number): string => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/**
 * Audit an image file or a folder; `bundle` names the cluster's own keys when it is the node's
 * cluster; `scanned` is what a scanner fed by another pass over the image already saw (scanImage).
 */
export async function audit(target: string, opts: { readonly bundle?: SecretsBundle | undefined; readonly scanned?: Scanned | Promise<Scanned> | undefined } = {}): Promise<AuditReport> {
  const st = await stat(target).catch(() => undefined);
  if (!st) throw imgforgeError('ReadFailed', { path: target, detail: 'no such file or folder' });
  const ev = st.isDirectory() ? await scanFolder(target) : await scanImage(target, opts.scanned);
  const parsed = ev.nodeJson ? NodeDoc.safeParse(JSON.parse(ev.nodeJson)) : undefined;
  const doc = parsed?.success ? parsed.data : null;
  const bundle = opts.bundle && doc && opts.bundle.cluster === doc.cluster.name ? opts.bundle : undefined;
  const known = new Map([...caKeys(ev.certs), ...(bundle ? bundleKeys(bundle) : [])]);
  // A key found in a CIDATA tar is named there (path, mode); its copy in the partition's raw bytes is the same key.
  const inFiles = new Map<string, number>();
  for (const h of ev.files) inFiles.set(identity(h.key), (inFiles.get(identity(h.key)) ?? 0) + 1);
  const raw = ev.raw.filter((h) => {
    const n = h.where.includes('(CIDATA)') ? inFiles.get(identity(h.key)) ?? 0 : 0;
    if (n > 0) inFiles.set(identity(h.key), n - 1);
    return n === 0;
  });
  const role = doc?.node.role ?? null;
  const violations: string[] = [];
  const keys = [...ev.files, ...raw].map((h: Hit): AuditedKey => {
    const c = classify(h.key, known, h.nodePath);
    const where = h.mode === undefined ? `${h.where} at byte ${h.offset}` : h.where;
    if (c.controlPlaneOnly && role !== 'control-plane') {
      violations.push(role ? `${doc!.node.hostname} is a ${role} node and carries the ${c.kind} (${where})` : `the ${c.kind} is carried (${where}) and no node.json says this is a control plane`);
    }
    if (h.mode !== undefined && (h.mode & 0o077) !== 0) violations.push(`${h.where} holds a private key (${c.kind}) with mode ${octal(h.mode)}, not 0600`);
    return { kind: c.kind, algorithm: algorithm(h.key), where: h.where, offset: h.offset, mode: h.mode === undefined ? null : octal(h.mode), encoding: h.key.encoding };
  });
  return {
    target, type: ev.type, node: doc?.node.hostname ?? null, role, cluster: doc?.cluster.name ?? null, bundle: bundle !== undefined,
    keys, violations, ok: violations.length === 0,
  };
}
