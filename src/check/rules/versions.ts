import { compareMinor, inMinorRange, minorOf } from '../compat.ts';
import type { Finding, Rule } from '../finding.ts';

type Ranged = { kubernetes: { min: string; max: string }; source: string; confidence: 'confirmed' | 'unconfirmed' };

/**
 * Judge a component line against the Kubernetes minor. Only confirmed data out of range is an
 * error; unconfirmed data, or a Kubernetes minor newer than every entry of the table (the data
 * has not caught up), only warns.
 */
function judge(id: string, what: string, line: string, table: readonly (Ranged & { key: string })[], kube: string, path: string): Finding[] {
  const entry = table.find((e) => e.key === line);
  const newestKnown = table.map((e) => e.kubernetes.max).sort(compareMinor).at(-1);
  if (entry && !inMinorRange(kube, entry.kubernetes) && newestKnown && compareMinor(kube, newestKnown) > 0) {
    return [{ id, severity: 'warning', message: `imgforge's ${what} data stops at Kubernetes ${newestKnown}; ${what} ${line} with Kubernetes ${kube} is not checked.`,
      hint: `Check ${what}'s release notes for Kubernetes ${kube}.`, paths: [path] }];
  }
  if (!entry) {
    return [{ id, severity: 'warning', message: `imgforge has no compatibility data for ${what} ${line}; it cannot check it against Kubernetes ${kube}.`,
      hint: 'Check the release notes yourself, or use a line listed in data/compatibility.yaml.', paths: [path] }];
  }
  if (inMinorRange(kube, entry.kubernetes)) return [];
  return [{ id, severity: entry.confidence === 'confirmed' ? 'error' : 'warning',
    message: `${what} ${line} supports Kubernetes ${entry.kubernetes.min} to ${entry.kubernetes.max}, not ${kube}${entry.confidence === 'confirmed' ? '' : ' (by a secondary source)'}.`,
    hint: `Pick a ${what} release that supports Kubernetes ${kube}. Source: ${entry.source}`, paths: [path, 'cluster.kubernetesVersion'] }];
}

/** Kubernetes version against its support window, the runtime and the CNI (data/compatibility.yaml). */
export const versionRules: Rule = ({ cluster, compat, today }) => {
  const out: Finding[] = [];
  const c = cluster.config.cluster;
  const kube = minorOf(c.kubernetesVersion);
  const release = compat.kubernetes.find((k) => k.minor === kube);
  const newest = compat.kubernetes.map((k) => k.minor).sort(compareMinor).at(-1)!;
  if (!release) {
    out.push({ id: 'kubernetes-version', severity: compareMinor(kube, newest) > 0 ? 'warning' : 'error',
      message: compareMinor(kube, newest) > 0 ? `Kubernetes ${kube} is newer than imgforge's data (up to ${newest}); compatibility is not checked.`
        : `Kubernetes ${kube} is out of support and too old for imgforge's data.`,
      hint: `Use a supported release, e.g. ${newest}.`, paths: ['cluster.kubernetesVersion'] });
  } else if (release.endOfLife < today) {
    out.push({ id: 'kubernetes-version', severity: 'warning', message: `Kubernetes ${kube} reached end of life on ${release.endOfLife}: no more security fixes.`,
      hint: `Move to ${newest}. Source: ${release.source}`, paths: ['cluster.kubernetesVersion'] });
  }

  // Past the newest release imgforge knows, no table can judge the runtime or the CNI.
  const judged = release !== undefined || compareMinor(kube, newest) < 0;
  const rt = c.runtime;
  if (rt.name === 'docker') {
    out.push({ id: 'runtime-docker', severity: 'error',
      message: `Docker cannot be the container runtime: Kubernetes removed dockershim in ${compat.runtimes.docker.removedIn}.`,
      hint: `Use containerd (Docker's own engine runs on it) or CRI-O; ${compat.runtimes.docker.adapter} exists for those who must keep Docker. Source: ${compat.runtimes.docker.source}`,
      paths: ['cluster.runtime.name'] });
  } else if (rt.version && rt.name === 'containerd' && judged) {
    const line = minorOf(rt.version);
    out.push(...judge('runtime-version', 'containerd', line, compat.runtimes.containerd.map((e) => ({ ...e, key: e.line })), kube, 'cluster.runtime.version'));
  } else if (rt.version && rt.name === 'cri-o' && minorOf(rt.version) !== kube) {
    out.push({ id: 'runtime-version', severity: 'error', message: `CRI-O ${minorOf(rt.version)} is for Kubernetes ${minorOf(rt.version)}, not ${kube}: CRI-O minors follow Kubernetes minors.`,
      hint: `Use CRI-O ${kube}. Source: ${compat.runtimes['cri-o'].source}`, paths: ['cluster.runtime.version', 'cluster.kubernetesVersion'] });
  }

  if (c.cni.version && judged) {
    const line = minorOf(c.cni.version);
    const table = (c.cni.plugin === 'cilium' ? compat.cni.cilium : compat.cni.calico).map((e) => ({ ...e, key: e.minor }));
    out.push(...judge('cni-version', c.cni.plugin === 'cilium' ? 'Cilium' : 'Calico', line, table, kube, 'cluster.cni.version'));
  }
  if (c.cni.kubeProxyReplacement && c.cni.plugin !== 'cilium') {
    out.push({ id: 'cni-kube-proxy-replacement', severity: 'error', message: 'kubeProxyReplacement is a Cilium feature; Calico needs kube-proxy.',
      paths: ['cluster.cni.kubeProxyReplacement'] });
  }
  if (c.addons.gatewayApi && c.cni.plugin === 'cilium' && !c.cni.kubeProxyReplacement) {
    out.push({ id: 'gateway-api-kpr', severity: 'error', message: 'Cilium serves Gateway API only with kube-proxy replacement (cilium gateway-api/installation.rst).',
      hint: 'Set cluster.cni.kubeProxyReplacement: true.', paths: ['cluster.addons.gatewayApi', 'cluster.cni.kubeProxyReplacement'] });
  }
  return out;
};
