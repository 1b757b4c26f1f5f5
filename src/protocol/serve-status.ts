/**
 * What `imgforge serve` says at /status.json and `imgforge status` prints: each node's phase,
 * read off its events (progress.ts, as the lab reads them) and the seed fetches the server saw,
 * and the machines that asked under identifiers no node has. The schema is the contract between
 * the two: the client checks an answer against it before printing anything.
 */
import { z } from 'zod';
import { EventState, type Event } from './events.ts';
import { nodeProgress } from './progress.ts';
import { ClaimStatus } from './serve-claims.ts';
import { TimelineEntry, timelineOf } from './timeline.ts';

export const STATUS_VERSION = 1;

/**
 * waiting: nothing heard; seeded: fetched its seed, no event yet; booting: events, no report;
 * complete/failed: its report (or its latest stage) says so; stale: seeded or booting, then
 * silent past the server's deadline (a node that lost power or network mid-boot).
 */
export const Phase = z.enum(['waiting', 'seeded', 'booting', 'complete', 'failed', 'stale']);
export type Phase = z.output<typeof Phase>;

export const Fetch = z.strictObject({ file: z.string(), address: z.string(), time: z.string() });
export type Fetch = z.output<typeof Fetch>;

export const NodeStatus = z.strictObject({
  hostname: z.string(),
  role: z.string(),
  phase: Phase,
  boots: z.number().int().nonnegative(),
  stage: z.string().nullable(),
  state: EventState.nullable(),
  reported: z.enum(['ok', 'fail']).nullable(),
  /** The last failure or retry of the latest boot, with its message. */
  lastProblem: z.string().nullable(),
  /** When the server received the node's last event (its own clock may be wrong before NTP). */
  lastEvent: z.string().nullable(),
  lastFetch: Fetch.nullable(),
  events: z.number().int().nonnegative(),
  /** The latest boot's stages in the order they began, each with its state and duration. */
  timeline: z.array(TimelineEntry),
  /** The latest boot's last messages, oldest first ("hh:mm:ss stage state: message"). */
  lines: z.array(z.string()),
  /** Claims posted for the node by a machine booted from a generic image (serve-claims.ts), in the order first posted. */
  claims: z.array(ClaimStatus),
});
export type NodeStatus = z.output<typeof NodeStatus>;

export const UnknownMachine = z.strictObject({
  by: z.enum(['hostname', 'mac', 'serial', 'uuid']),
  value: z.string(),
  address: z.string(),
  /** The requester's MAC from this host's neighbour table (/proc/net/arp), when it is on the same LAN. */
  neighbourMac: z.string().nullable(),
  userAgent: z.string().nullable(),
  file: z.string(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  count: z.number().int().positive(),
});
export type UnknownMachine = z.output<typeof UnknownMachine>;

/** The cluster's assembly as the nodes' stages report it (docs/assembly.md names the stages). */
export const ClusterProgress = z.strictObject({
  /** The node whose kubeadm-init stage ended ok, once one has. */
  initialised: z.string().nullable(),
  /** Nodes whose kubeadm-join stage ended ok, in the order they did. */
  joined: z.array(z.string()),
  /** etcd's members by the same reports: the init node, control planes that joined, etcd-member and etcd-external stages ok. */
  etcdMembers: z.array(z.string()),
  /** The leader's token-cleanup ended ok: every node has joined and the bootstrap token is gone. */
  tokenDeleted: z.boolean(),
});
export type ClusterProgress = z.output<typeof ClusterProgress>;

export const ServeStatus = z.strictObject({
  v: z.literal(STATUS_VERSION),
  cluster: z.string(),
  /** Init, joins, etcd members and the token, across the nodes. */
  progress: ClusterProgress,
  url: z.string(),
  time: z.string(),
  nodes: z.array(NodeStatus),
  unknown: z.array(UnknownMachine),
  /** Unknown machines not listed once the list was full. */
  unknownDropped: z.number().int().nonnegative(),
});
export type ServeStatus = z.output<typeof ServeStatus>;

/** One node's status at `now` (pure). */
export function nodeStatus(node: { hostname: string; role: string }, events: readonly Event[], lastEvent: string | null, lastFetch: Fetch | null,
  now: number, staleAfterSeconds: number, claims: readonly ClaimStatus[] = []): NodeStatus {
  const p = nodeProgress(events);
  // Cloud-init's events arrive before the node's first own event names its boot (event-post.ts): not a boot of their own.
  const boots = new Set(events.map((e) => e.boot).filter((b) => b !== '')).size;
  const heard = [lastEvent, lastFetch?.time].filter((t) => t !== null && t !== undefined).map((t) => Date.parse(t!));
  const silentFor = heard.length ? (now - Math.max(...heard)) / 1000 : 0;
  let phase: Phase = p.reported === 'ok' ? 'complete'
    : p.reported === 'fail' || p.state === 'fail' ? 'failed'
    : events.length ? 'booting' : lastFetch ? 'seeded' : 'waiting';
  if ((phase === 'booting' || phase === 'seeded') && silentFor > staleAfterSeconds) phase = 'stale';
  return {
    hostname: node.hostname, role: node.role, phase, boots, stage: p.stage, state: p.state, reported: p.reported,
    lastProblem: p.lastProblem, lastEvent, lastFetch, events: events.length, ...timelineOf(events), claims: [...claims],
  };
}

/** The cluster's assembly read off every node's events (pure): each stage's first ok, in time order. */
export function clusterProgress(nodes: readonly { hostname: string; role: string; events: readonly Event[] }[]): ClusterProgress {
  const done = (stage: string) => nodes
    .map((n) => ({ n, at: n.events.find((e) => e.stage === stage && e.state === 'ok')?.time }))
    .filter((x): x is { n: typeof x.n; at: string } => x.at !== undefined)
    .sort((a, b) => a.at.localeCompare(b.at)).map((x) => x.n);
  const init = done('kubeadm-init')[0];
  const joined = done('kubeadm-join');
  const members = [...(init ? [init] : []), ...joined.filter((n) => n.role === 'control-plane'), ...done('etcd-member'), ...done('etcd-external')];
  return {
    initialised: init?.hostname ?? null,
    joined: joined.map((n) => n.hostname),
    etcdMembers: [...new Set(members.map((n) => n.hostname))],
    tokenDeleted: done('token-cleanup').length > 0,
  };
}

/** One line for people: where the assembly stands. */
export function progressLine(p: ClusterProgress): string {
  if (!p.initialised) return 'cluster: not initialised yet';
  return [`cluster: initialised on ${p.initialised}`, `joined: ${p.joined.join(', ') || 'none yet'}`, `etcd members: ${p.etcdMembers.join(', ')}`,
    p.tokenDeleted ? 'bootstrap token deleted' : 'bootstrap token still valid'].join('; ');
}
