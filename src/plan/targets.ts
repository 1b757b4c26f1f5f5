import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { imgforgeError } from '../errors/error.ts';

/**
 * Targets are node hostnames or board profile names (all nodes on that board); none means all.
 * Nodes come back in config order, each once.
 */
export function selectNodes(cluster: Cluster, targets: readonly string[]): ResolvedNode[] {
  if (targets.length === 0) return [...cluster.nodes];
  const chosen = new Set<ResolvedNode>();
  for (const t of targets) {
    const matches = cluster.nodes.filter((n) => n.config.hostname === t || n.config.board === t);
    if (matches.length === 0) {
      const boards = [...new Set(cluster.nodes.map((n) => n.config.board))];
      throw imgforgeError('UnknownTarget', { target: t, known: [...cluster.nodes.map((n) => n.config.hostname), ...boards].join(', ') });
    }
    for (const m of matches) chosen.add(m);
  }
  return cluster.nodes.filter((n) => chosen.has(n));
}
