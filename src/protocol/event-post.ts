/**
 * The body of an event post to the seed server, read into events of the protocol (events.ts),
 * all or nothing: one event object, an array of them, or JSON lines as the node's spool holds
 * them; or cloud-init's own reporting events (its webhook handler posts one JSON object per
 * event, with no Content-Type), translated by fromCloudInit. Every line goes through parseEvents,
 * the protocol's one parser.
 */
import { z } from 'zod';
import { fromCloudInit, parseEvents, type Event } from './events.ts';

/** Events in one post at most: a node's whole spool of a first boot is a few hundred. */
export const MAX_EVENTS_PER_POST = 1000;

/** cloudinit/reporting/events.py ReportingEvent.as_dict (+ FinishReportingEvent's result); `files` and the rest are ignored. */
const CloudInitEvent = z.object({
  origin: z.literal('cloudinit'),
  name: z.string().min(1),
  event_type: z.enum(['start', 'finish']),
  timestamp: z.number().nonnegative(),
  result: z.enum(['SUCCESS', 'WARN', 'FAIL']).optional(),
  description: z.string().optional(),
});

/** What a cloud-init event lacks and the server supplies: the node's latest boot, and its uptime then. */
export interface PostContext {
  readonly boot: string;
  readonly upAt: (epochSeconds: number) => number;
}

export type PostResult = { readonly events: readonly Event[] } | { readonly problems: readonly string[] };

/** The events of a post for `node`, or every reason it is refused (then none is kept). */
export function parseEventPost(text: string, node: string, ctx: PostContext): PostResult {
  if (text.trim() === '') return { problems: ['the body is empty'] };
  let items: unknown[];
  try {
    const whole: unknown = JSON.parse(text);
    items = Array.isArray(whole) ? whole : [whole];
  } catch {
    // Not one JSON value: JSON lines, each parsed (and refused) on its own below.
    items = text.split('\n').filter((l) => l.trim() !== '').map((l) => { try { return JSON.parse(l) as unknown; } catch { return l; } });
  }
  if (items.length === 0) return { problems: ['the post holds no event'] };
  if (items.length > MAX_EVENTS_PER_POST) return { problems: [`${items.length} events in one post; at most ${MAX_EVENTS_PER_POST}`] };
  const lines = items.map((item) => {
    if (typeof item === 'string') return item;
    const ci = CloudInitEvent.safeParse(item);
    return JSON.stringify(ci.success ? fromCloudInit(node, ctx.boot, ctx.upAt, ci.data) : item);
  });
  const { events, rejected } = parseEvents(lines.join('\n'));
  const problems = [
    ...rejected.map((r) => `${r.line.length > 80 ? `${r.line.slice(0, 77)}...` : r.line}: ${r.problem}`),
    ...events.filter((e) => e.node !== node).map((e) => `an event of ${JSON.stringify(e.node)} posted as ${node}'s`),
  ];
  // A line of the post is one event: a line parseEvents skipped as blank would not be one.
  if (events.length + rejected.length !== lines.length) problems.push('an item of the post is not an event object');
  return problems.length > 0 ? { problems } : { events };
}
