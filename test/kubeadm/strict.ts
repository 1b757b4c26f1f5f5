/**
 * A strict reader of kubeadm configuration streams, as `kubeadm config validate` reads them:
 * every document's apiVersion and kind must be known, every field must be one upstream's types
 * declare (fields/*.json, made from upstream's types.go by scripts/gen-kube-fields.ts), every value
 * of the kind the field takes; then the checks kubeadm's own validation (ValidateInitConfiguration,
 * ValidateJoinConfiguration, cmd/kubeadm/app/apis/kubeadm/validation) makes on the fields imgforge
 * sets. Independent of imgforge's zod models, so a field misspelt in both is still caught. The
 * lab's kubeadm stand-in reads configurations with it too.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseAllDocuments } from 'yaml';

interface FieldList { readonly source: { repo: string; path: string; commit: string }; readonly types: Record<string, Record<string, string>> }
const load = (name: string): FieldList => JSON.parse(readFileSync(new URL(`./fields/${name}.json`, import.meta.url), 'utf8')) as FieldList;
const KUBEADM = load('kubeadm-v1beta4');
const KUBELET = load('kubelet-v1beta1');
const PROXY = load('kubeproxy-v1alpha1');

const KINDS: Record<string, { list: FieldList; type: string }> = {
  'kubeadm.k8s.io/v1beta4/InitConfiguration': { list: KUBEADM, type: 'InitConfiguration' },
  'kubeadm.k8s.io/v1beta4/ClusterConfiguration': { list: KUBEADM, type: 'ClusterConfiguration' },
  'kubeadm.k8s.io/v1beta4/JoinConfiguration': { list: KUBEADM, type: 'JoinConfiguration' },
  'kubelet.config.k8s.io/v1beta1/KubeletConfiguration': { list: KUBELET, type: 'KubeletConfiguration' },
  'kubeproxy.config.k8s.io/v1alpha1/KubeProxyConfiguration': { list: PROXY, type: 'KubeProxyConfiguration' },
};

const GO_DURATION = /^(0|(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+)$/;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkValue(list: FieldList, ref: string, value: unknown, path: string, out: string[]): void {
  if (value === null && (ref.startsWith('[]') || ref.startsWith('map['))) return;
  if (ref === 'any') return;
  if (ref.startsWith('[]')) {
    if (!Array.isArray(value)) { out.push(`${path}: must be a list`); return; }
    value.forEach((v, i) => checkValue(list, ref.slice(2), v, `${path}[${i}]`, out));
    return;
  }
  if (ref.startsWith('map[string]')) {
    if (!isObject(value)) { out.push(`${path}: must be a map`); return; }
    for (const [k, v] of Object.entries(value)) checkValue(list, ref.slice(11), v, `${path}.${k}`, out);
    return;
  }
  const ok = {
    string: typeof value === 'string', bool: typeof value === 'boolean', int: Number.isInteger(value), number: typeof value === 'number',
    duration: typeof value === 'string' && GO_DURATION.test(value),
  }[ref];
  if (ok !== undefined) { if (!ok) out.push(`${path}: must be ${ref === 'int' ? 'an integer' : `a ${ref}`}`); return; }
  const fields = list.types[ref];
  if (!fields) throw new Error(`field list has no type ${ref}`);
  if (!isObject(value)) { out.push(`${path}: must be an object`); return; }
  for (const [k, v] of Object.entries(value)) {
    const r = fields[k];
    if (r === undefined) out.push(`${path}.${k}: unknown field "${k}"`);
    else checkValue(list, r, v, `${path}.${k}`, out);
  }
}

const TOKEN = /^[a-z0-9]{6}\.[a-z0-9]{16}$/;
const cidrOk = (s: unknown): boolean => typeof s === 'string' && /^(.+)\/(\d+)$/.test(s) && isIP(s.split('/')[0]!) !== 0;
const endpointOk = (s: unknown): boolean => typeof s === 'string' && /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?|\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\])(:\d{1,5})?$/.test(s);

/** What kubeadm's validation package checks of the fields imgforge sets. */
function semantics(kind: string, d: Record<string, any>, out: string[]): void {
  if (kind === 'InitConfiguration') {
    for (const [i, t] of (d.bootstrapTokens ?? []).entries()) {
      if (!TOKEN.test(t.token ?? '')) out.push(`bootstrapTokens[${i}].token: the bootstrap token is invalid`);
      if (t.ttl !== undefined && t.expires !== undefined) out.push(`bootstrapTokens[${i}]: ttl and expires are mutually exclusive`);
    }
    const a = d.localAPIEndpoint?.advertiseAddress;
    if (a !== undefined && isIP(a) === 0) out.push('localAPIEndpoint.advertiseAddress: must be a valid IP address');
  }
  if (kind === 'ClusterConfiguration') {
    for (const f of ['podSubnet', 'serviceSubnet'] as const) {
      const v = d.networking?.[f];
      if (v !== undefined && !String(v).split(',').every(cidrOk)) out.push(`networking.${f}: couldn't parse subnet`);
    }
    if (d.controlPlaneEndpoint !== undefined && !endpointOk(d.controlPlaneEndpoint)) out.push('controlPlaneEndpoint: must be an IP or DNS name, with an optional port');
    if (d.etcd?.local && d.etcd?.external) out.push('etcd: local and external are mutually exclusive');
    if (d.etcd?.external && !(d.etcd.external.endpoints?.length > 0)) out.push('etcd.external.endpoints: required');
  }
  if (kind === 'JoinConfiguration') {
    const bt = d.discovery?.bootstrapToken, file = d.discovery?.file;
    if (!bt && !file) out.push('discovery: bootstrapToken or file must be set');
    if (bt && file) out.push('discovery: bootstrapToken and file are mutually exclusive');
    if (bt) {
      if (!TOKEN.test(bt.token ?? '')) out.push('discovery.bootstrapToken.token: the bootstrap token is invalid');
      if (!bt.apiServerEndpoint || !endpointOk(bt.apiServerEndpoint)) out.push('discovery.bootstrapToken.apiServerEndpoint: must be host:port');
      const hashes: unknown[] = bt.caCertHashes ?? [];
      if (hashes.length === 0 && !bt.unsafeSkipCAVerification) out.push('discovery.bootstrapToken: caCertHashes or unsafeSkipCAVerification must be set');
      for (const h of hashes) if (!/^sha256:[0-9a-f]{64}$/.test(String(h))) out.push(`discovery.bootstrapToken.caCertHashes: invalid hash ${String(h)}`);
    }
    const a = d.controlPlane?.localAPIEndpoint?.advertiseAddress;
    if (a !== undefined && isIP(a) === 0) out.push('controlPlane.localAPIEndpoint.advertiseAddress: must be a valid IP address');
  }
  if (d.nodeRegistration?.criSocket !== undefined && !/^unix:\/\/\//.test(d.nodeRegistration.criSocket)) out.push('nodeRegistration.criSocket: must be a unix:// URL');
}

/** Every error in a YAML stream of configuration documents; [] when kubeadm would accept it. */
export function validateKubeadmStream(text: string): string[] {
  const out: string[] = [];
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  const seen = new Set<string>();
  for (const [i, doc] of docs.entries()) {
    if (doc.errors.length > 0) { out.push(`document ${i}: ${doc.errors[0]!.message}`); continue; }
    const d = doc.toJS() as unknown;
    if (!isObject(d)) { out.push(`document ${i}: not an object`); continue; }
    const key = `${String(d.apiVersion)}/${String(d.kind)}`;
    const known = KINDS[key];
    if (!known) { out.push(`document ${i}: unknown apiVersion/kind ${key}`); continue; }
    if (seen.has(key)) out.push(`document ${i}: a second ${String(d.kind)}`);
    seen.add(key);
    const errs: string[] = [];
    checkValue(known.list, known.type, d, String(d.kind), errs);
    semantics(String(d.kind), d as Record<string, any>, errs);
    out.push(...errs.map((e) => (e.startsWith(String(d.kind)) ? e : `${String(d.kind)}.${e}`)));
  }
  if (seen.has('kubeadm.k8s.io/v1beta4/InitConfiguration') && seen.has('kubeadm.k8s.io/v1beta4/JoinConfiguration')) out.push('InitConfiguration and JoinConfiguration in one stream');
  return out;
}
