/**
 * What `imgforge serve` says at /status.json and `imgforge status` prints: each node's phase,
 * read off its events (progress.ts, as the lab reads them) and the seed fetches the server saw,
 * and the machines that asked under identifiers no node has. The schema is the contract between
 * the two: the client checks an answer against it before printing anything.
 */
import { z } from 'zod';
import { EventState, type Event } from './events.ts';
import { nodeProgress } from './progress.ts';

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

export const ServeStatus = z.strictObject({
  v: z.literal(STATUS_VERSION),
  cluster: z.string(),
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
  now: number, staleAfterSeconds: number): NodeStatus {
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
    lastProblem: p.lastProblem, lastEvent, lastFetch, events: events.length,
  };
}
