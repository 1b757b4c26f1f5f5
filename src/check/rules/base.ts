import { compareMinor, minorOf } from '../compat.ts';
import { nodePath, type Finding, type Rule } from '../finding.ts';

/**
 * A node's base against the Kubernetes and CNI releases it is to run: the kubelet refuses cgroup
 * v1 from 1.35 (KEP-5573), and Cilium needs a minimum kernel (data/compatibility.yaml, with sources).
 * Errors: such a node is flashed, boots, and can never run its part of the cluster. The hint names
 * the profile's alternative (a base of the same board that can) when it has one.
 */
export const baseRules: Rule = ({ cluster, compat }) => {
  const out: Finding[] = [];
  const c = cluster.config.cluster;
  const kube = minorOf(c.kubernetesVersion);
  const cilium = c.cni.plugin === 'cilium' && c.cni.version ? compat.kernels.cilium.find((k) => k.minor === minorOf(c.cni.version!)) : undefined;
  for (const n of cluster.nodes) {
    if (n.config.role === 'etcd') continue;
    const f = n.profile.base.facts;
    const base = `${n.config.hostname}'s base (${n.profile.base.os.id} ${n.profile.base.os.version}, kernel ${f.kernel}, cgroup ${f.cgroup})`;
    const instead = n.profile.alternative ? `board '${n.profile.alternative}' (the same board on a base that runs it), or ` : '';
    if (f.cgroup === 'v1' && compareMinor(kube, compat.kernels.kubeletRefusesCgroupV1From) >= 0) {
      out.push({ id: 'base-cgroup-v1', severity: 'error',
        message: `${base} mounts cgroup v1: the kubelet of Kubernetes ${kube} refuses to start on it (failCgroupV1, KEP-5573).`,
        hint: `Use ${instead}a base with cgroup v2 (Ubuntu 22.04 or later, Debian 11 or later; see imgforge profiles), or Kubernetes before ${compat.kernels.kubeletRefusesCgroupV1From}. Source: ${compat.kernels.kubeletSource}`,
        paths: [nodePath(n, 'board'), 'cluster.kubernetesVersion'] });
    }
    if (cilium && compareMinor(f.kernel, cilium.minKernel) < 0) {
      out.push({ id: 'base-kernel-cni', severity: 'error',
        message: `${base}: Cilium ${cilium.minor} needs kernel ${cilium.minKernel} or later; its agent will not run there.`,
        hint: `Use ${instead}a base with a newer kernel (see imgforge profiles), or a CNI this kernel runs. Source: ${cilium.source}`,
        paths: [nodePath(n, 'board'), 'cluster.cni.version'] });
    }
  }
  return out;
};
