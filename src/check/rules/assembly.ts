import type { Finding, Rule } from '../finding.ts';

/**
 * What self-assembly cannot do with this config: a download with no pinned digest, a chart at no
 * fixed version, a VIP port nothing answers on. Only when the nodes assemble (cluster.selfAssembly).
 */
export const assemblyRules: Rule = ({ cluster, packages }) => {
  const c = cluster.config.cluster;
  if (!c.selfAssembly) return [];
  const out: Finding[] = [];
  if (c.runtime.name === 'cri-o') {
    out.push({ id: 'runtime-unsupported', severity: 'error',
      message: 'The nodes install containerd when they assemble the cluster; they do not install CRI-O yet.',
      hint: 'Set cluster.runtime.name to "containerd", or cluster.selfAssembly: false to install CRI-O yourself.', paths: ['cluster.runtime.name'] });
  }
  const g = c.addons.gatewayApi;
  if (g && !packages.gatewayApi.sha256[g.channel][g.version]) {
    const known = Object.keys(packages.gatewayApi.sha256[g.channel]).join(', ');
    out.push({ id: 'gateway-api-version', severity: 'error',
      message: `Gateway API ${g.version} (${g.channel}) has no pinned SHA-256 in imgforge's data: the leader would apply CRDs nobody checked.`,
      hint: `Use one of ${known}, or add its digest to data/packages.yaml with its source.`, paths: ['cluster.addons.gatewayApi.version'] });
  }
  if (c.cni.plugin === 'calico' && !c.cni.version) {
    out.push({ id: 'cni-version-required', severity: 'error',
      message: 'Calico has no version: Helm would install whatever Tigera\'s chart repository holds newest on the day each image first boots.',
      hint: 'Set cluster.cni.version, e.g. "3.32.1".', paths: ['cluster.cni.version'] });
  }
  // keepalived alone and kube-vip in ARP mode move the address only: clients reach the API server itself, on 6443.
  if (c.controlPlaneEndpoint.provider !== 'keepalived+haproxy' && c.controlPlaneEndpoint.port !== 6443) {
    out.push({ id: 'vip-port', severity: 'error',
      message: `${c.controlPlaneEndpoint.provider} holds the VIP for the API servers' own port, 6443; nothing answers on ${c.controlPlaneEndpoint.port} there.`,
      hint: 'Set cluster.controlPlaneEndpoint.port to 6443, or use provider "keepalived+haproxy" to balance on another port.',
      paths: ['cluster.controlPlaneEndpoint.port'] });
  }
  return out;
};
