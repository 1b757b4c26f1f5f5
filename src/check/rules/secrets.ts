import type { Finding, Rule } from '../finding.ts';

/** How a duration in seconds reads: whole days, else hours, else minutes. */
function human(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400} day${seconds === 86_400 ? '' : 's'}`;
  if (seconds % 3600 === 0) return `${seconds / 3600} hours`;
  return `${Math.round(seconds / 60)} minutes`;
}

/**
 * What the secrets ask of the operator: nodes join with a bootstrap token that expires
 * (kubeadm's bootstrap tokens, kubernetes.io "Authenticating with Bootstrap Tokens"), so every
 * node must first boot within its lifetime. The bundle's own dates are for `secrets show`:
 * rules read no files.
 */
export const secretsRules: Rule = ({ cluster }) => {
  const out: Finding[] = [];
  const joiners = cluster.nodes.filter((n) => n.config.role !== 'etcd').length;
  const ttl = cluster.config.cluster.bootstrapTokenTtl;
  if (joiners > 1) {
    out.push({ id: 'bootstrap-token-ttl', severity: 'info',
      message: `Nodes join with a bootstrap token valid for ${human(ttl)} from \`imgforge secrets init\` (or the first build): flash and boot every node within it.`,
      hint: 'For a node flashed later: `imgforge secrets rotate-token <node>` and rebuild that node; the others keep their images.',
      paths: ['cluster.bootstrapTokenTtl'] });
  }
  return out;
};
