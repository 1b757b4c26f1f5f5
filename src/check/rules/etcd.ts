import { etcdMembers } from '../../config/topology.ts';
import { count, nodePath, type Finding, type Rule } from '../finding.ts';

/** etcd FAQ: a cluster of N members needs floor(N/2)+1 to agree, so it survives floor((N-1)/2) failures. */
export const failuresTolerated = (members: number): number => (members < 1 ? 0 : Math.floor((members - 1) / 2));

const ADD_MEMBER_HINT =
  'Give a worker `etcd: true` (an etcd member for quorum, no API server) or add a third control plane: three members survive one failure.';
/** With the external topology only nodes of role "etcd" are members. */
const ADD_EXTERNAL_HINT = 'Add nodes with role "etcd" until there are three (or five): three members survive one failure.';

export const etcdRules: Rule = ({ cluster }) => {
  const out: Finding[] = [];
  const topology = cluster.config.cluster.etcd.topology;
  const controlPlanes = cluster.nodes.filter((n) => n.config.role === 'control-plane');
  if (controlPlanes.length === 0) {
    out.push({ id: 'no-control-plane', severity: 'error', message: 'No node has role "control-plane": nothing would run the API server.',
      hint: 'Set role: "control-plane" on one or more nodes (three for HA).', paths: ['nodes'] });
  }
  const leader = cluster.config.cluster.leader;
  if (leader !== undefined && !controlPlanes.some((n) => n.config.hostname === leader)) {
    const node = cluster.nodes.find((n) => n.config.hostname === leader);
    out.push({ id: 'leader-not-control-plane', severity: 'error',
      message: node ? `cluster.leader names ${leader}, a node of role "${node.config.role}": only a control plane can run kubeadm init.` : `cluster.leader names ${leader}, which is not a node of this config.`,
      hint: `Name one of the control planes (${controlPlanes.map((n) => n.config.hostname).join(', ') || 'none yet'}), or remove cluster.leader to use the first.`, paths: ['cluster.leader'] });
  }
  for (const n of cluster.nodes) {
    if (n.config.role === 'etcd' && topology === 'stacked') {
      out.push({ id: 'etcd-role-topology', severity: 'error', message: `${n.config.hostname} has role "etcd", but the etcd topology is "stacked".`,
        hint: 'Set cluster.etcd.topology: "external" for dedicated etcd nodes, or give the node role "worker" with etcd: true.', paths: [nodePath(n, 'role'), 'cluster.etcd.topology'] });
    }
    if (n.config.etcd && n.config.role !== 'worker') {
      const why = n.config.role === 'etcd' ? 'an etcd node is already a member'
        : topology === 'stacked' ? 'a control plane already runs a stacked member' : 'in the external topology only nodes with role "etcd" are members';
      out.push({ id: 'etcd-flag-role', severity: 'error', message: `${n.config.hostname}: etcd: true is for workers; ${why}.`,
        hint: 'Remove etcd: true from this node.', paths: [nodePath(n, 'etcd')] });
    }
    if (n.config.etcd && n.config.role === 'worker' && topology === 'external') {
      out.push({ id: 'etcd-flag-role', severity: 'error', message: `${n.config.hostname}: etcd: true adds a stacked member, but the etcd topology is "external".`,
        hint: 'Use a node with role "etcd" for an external member.', paths: [nodePath(n, 'etcd')] });
    }
  }
  const members = etcdMembers(cluster);
  const names = members.map((m) => m.config.hostname).join(', ');
  const tolerated = failuresTolerated(members.length);
  const summary = `etcd (${topology}) has ${count(members.length, 'member')}${members.length ? ` (${names})` : ''} and survives ${count(tolerated, 'failure')}`;
  if (members.length === 0) {
    if (topology === 'external') {
      out.push({ id: 'etcd-quorum', severity: 'error', message: 'The etcd topology is "external" but no node has role "etcd".',
        hint: 'Add three nodes with role "etcd".', paths: ['cluster.etcd.topology'] });
    }
  } else if (members.length === 2) {
    out.push({ id: 'etcd-quorum', severity: 'error',
      message: `${summary}: a majority of 2 is 2, so losing either node stops the API server. Two control planes are less available than one.`,
      hint: topology === 'external' ? ADD_EXTERNAL_HINT : ADD_MEMBER_HINT, paths: members.map((m) => nodePath(m)) });
  } else if (members.length === 1) {
    out.push({ id: 'etcd-quorum', severity: 'warning', message: `${summary}: the cluster is not highly available.`, hint: topology === 'external' ? ADD_EXTERNAL_HINT : ADD_MEMBER_HINT,
      paths: members.map((m) => nodePath(m)) });
  } else if (members.length % 2 === 0) {
    out.push({ id: 'etcd-quorum', severity: 'warning',
      message: `${summary}, no more than ${members.length - 1} members would; the extra member adds load and one more way to lose quorum.`,
      hint: 'Use an odd number of etcd members.', paths: members.map((m) => nodePath(m)) });
  } else {
    out.push({ id: 'etcd-quorum', severity: 'info', message: `${summary}.`, paths: [] });
  }
  return out;
};
