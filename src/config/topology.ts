/**
 * Facts the cluster's shape implies, which the checks, the plan, the secrets and the kubeadm
 * documents all read (here, so none of them depends on another for it).
 */
import type { Cluster, ResolvedNode } from './resolve.ts';

/** The nodes that run an etcd member, by topology. */
export function etcdMembers(cluster: Cluster): ResolvedNode[] {
  const external = cluster.config.cluster.etcd.topology === 'external';
  return cluster.nodes.filter((n) =>
    external ? n.config.role === 'etcd' : n.config.role === 'control-plane' || (n.config.role === 'worker' && n.config.etcd));
}
