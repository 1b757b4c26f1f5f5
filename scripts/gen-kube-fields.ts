/**
 * Writes the field list of a Kubernetes config API (the JSON names and value kinds of every
 * struct in its Go types.go) as JSON, for the strict validator of the kubeadm documents tests
 * (test/kubeadm/strict.ts), which does what `kubeadm config validate` does with unknown fields.
 *
 *   node scripts/gen-kube-fields.ts <types.go> <repo> <path> <commit> > test/kubeadm/fields/<api>.json
 *
 * The sources: kubernetes/kubelet config/v1beta1/types.go and kubernetes/kube-proxy
 * config/v1alpha1/types.go (the staging mirrors of kubernetes/kubernetes). kubeadm's own v1beta4
 * types are not in a staging repository; test/kubeadm/fields/kubeadm-v1beta4.json was written from
 * cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go in the same form and names its commit.
 */
import { readFileSync } from 'node:fs';

/** Types from other packages the configs embed, as their own packages define them. */
const EXTERNAL: Record<string, string | Record<string, string>> = {
  'metav1.Duration': 'duration',
  'metav1.Time': 'string',
  // k8s.io/api core/v1 Taint.
  'v1.Taint': { key: 'string', value: 'string', effect: 'string', timeAdded: 'string' },
  'v1.ResourceList': 'map[string]string',
  // k8s.io/component-base config/v1alpha1 ClientConnectionConfiguration.
  'componentbaseconfigv1alpha1.ClientConnectionConfiguration': { kubeconfig: 'string', acceptContentTypes: 'string', contentType: 'string', qps: 'number', burst: 'int' },
  // k8s.io/component-base logs/api/v1 LoggingConfiguration and tracing/api/v1 TracingConfiguration.
  'logsapi.LoggingConfiguration': { format: 'string', flushFrequency: 'any', verbosity: 'int', vmodule: 'any', options: 'any' },
  'tracingapi.TracingConfiguration': { endpoint: 'string', samplingRatePerMillion: 'int' },
};

const PRIMITIVE: Record<string, string> = {
  string: 'string', bool: 'bool', int: 'int', int32: 'int', int64: 'int', uint32: 'int', uint64: 'int', float32: 'number', float64: 'number',
};

export function fieldsOf(go: string): Record<string, Record<string, string>> {
  const aliases = new Map<string, string>();
  for (const m of go.matchAll(/^type (\w+) (string|bool|int32|int64|int|float64)\s*$/gm)) aliases.set(m[1]!, PRIMITIVE[m[2]!]!);
  const structs = new Map<string, string>();
  for (const m of go.matchAll(/^type (\w+) struct \{\n([\s\S]*?)^\}/gm)) structs.set(m[1]!, m[2]!);
  const types: Record<string, Record<string, string>> = {};
  const ref = (t: string): string => {
    t = t.replace(/^\*/, '');
    if (t.startsWith('[]')) return `[]${ref(t.slice(2))}`;
    const map = /^map\[(\w+)\](.+)$/.exec(t);
    if (map) return `map[string]${ref(map[2]!)}`;
    if (PRIMITIVE[t]) return PRIMITIVE[t]!;
    if (aliases.has(t)) return aliases.get(t)!;
    if (structs.has(t)) return t;
    const ext = EXTERNAL[t];
    if (typeof ext === 'string') return ext;
    if (ext) { types[t] ??= { ...ext }; return t; }
    return 'any';
  };
  const fields = (name: string): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const line of structs.get(name)!.split('\n')) {
      const m = /^\s*(?:(\w+)\s+)?([*\[\]\w.]+(?:\[\w+\][*\w.]+)?)\s+`json:"([^"]*)"/.exec(line);
      if (!m) continue;
      const [, field, type, tag] = m as unknown as [string, string | undefined, string, string];
      const jsonName = tag.split(',')[0]!;
      if (!field || jsonName === '') {
        // Embedded: its fields are this struct's (json ",inline", or TypeMeta's apiVersion and kind).
        if (type === 'metav1.TypeMeta') Object.assign(out, { apiVersion: 'string', kind: 'string' });
        else if (structs.has(type)) Object.assign(out, fields(type));
        else { const r = ref(type); if (types[r]) Object.assign(out, types[r]); }
        continue;
      }
      if (jsonName === '-') continue;
      out[jsonName] = ref(type);
    }
    return out;
  };
  for (const name of structs.keys()) types[name] = fields(name);
  return types;
}

if (import.meta.main) {
  const [file, repo, path, commit] = process.argv.slice(2);
  if (!file || !repo || !path || !commit) {
    process.stderr.write('usage: gen-kube-fields.ts <types.go> <repo> <path> <commit>\n');
    process.exit(2);
  }
  const types = fieldsOf(readFileSync(file, 'utf8'));
  process.stdout.write(`${JSON.stringify({ source: { repo, path, commit }, types }, null, 1)}\n`);
}
