/**
 * The first-boot event protocol: one JSON object per line, written by the node's shell library
 * (runtime/usr/local/lib/imgforge/lib.sh, `event`) to the journal, to the virtio-serial port
 * org.imgforge.events when a hypervisor offers one, and to a spool the seed server can collect.
 * `imgforge test`, the lab and the seed server read it through this module only.
 */
import { z } from 'zod';

/** Bumped when a field changes meaning; readers refuse versions they do not know. */
export const PROTOCOL_VERSION = 1;

/** The virtio-serial port name the node writes events to (/dev/virtio-ports/<name>). */
export const EVENT_PORT = 'org.imgforge.events';

export const EventState = z.enum(['begin', 'ok', 'retry', 'fail', 'note']);
export type EventState = z.output<typeof EventState>;

export const Event = z.strictObject({
  /** Protocol version. */
  v: z.literal(PROTOCOL_VERSION),
  /** Node hostname, as in the config. */
  node: z.string(),
  /** The kernel's boot id (/proc/sys/kernel/random/boot_id): tells one boot's events from the next. */
  boot: z.string(),
  /** Stage name ("layout", "prepare", ...), or "bundle" (the seed's bootstrap), "complete", "report". */
  stage: z.string().min(1),
  state: EventState,
  /** Wall-clock time, ISO 8601 UTC; a board without a battery may report 1970 until NTP syncs. */
  time: z.string(),
  /** Seconds since the kernel started (/proc/uptime): the clock a timeline can trust. */
  up: z.number().nonnegative(),
  msg: z.string().optional(),
  /** Which try this is (retry and fail events). */
  attempt: z.number().int().positive().optional(),
  /** On ok: whether this run changed the machine (false: the stage found it already done). */
  changed: z.boolean().optional(),
  /** Report events: the fact's name and its words (imgforge test judges them). */
  fact: z.string().optional(),
  value: z.array(z.string()).optional(),
});
export type Event = z.output<typeof Event>;

export interface ParsedEvents {
  readonly events: readonly Event[];
  /** Lines that were not events, with why: a torn write at a power cut, or another protocol version. */
  readonly rejected: readonly { readonly line: string; readonly problem: string }[];
}

/** Parse a stream's text; lines that are not valid events are set aside with the reason, never thrown. */
export function parseEvents(text: string): ParsedEvents {
  const events: Event[] = [];
  const rejected: { line: string; problem: string }[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '').trim();
    if (!line) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      rejected.push({ line, problem: 'not JSON' });
      continue;
    }
    const r = Event.safeParse(value);
    if (r.success) events.push(r.data);
    else rejected.push({ line, problem: r.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ') });
  }
  return { events, rejected };
}

/** Splits a live byte stream into whole lines; the tail of an unfinished line waits for the next chunk. */
export class LineSplitter {
  #rest = '';

  push(chunk: string): string[] {
    const text = this.#rest + chunk;
    const lines = text.split('\n');
    this.#rest = lines.pop()!;
    return lines;
  }
}

/** The line a person reads on the console: what the node prints next to each event. */
export function describeEvent(e: Event): string {
  const parts = [`${e.stage} ${e.state}`];
  if (e.attempt !== undefined) parts.push(`(attempt ${e.attempt})`);
  if (e.changed === false) parts.push('(unchanged)');
  if (e.fact !== undefined) parts.push(`${e.fact} ${(e.value ?? []).join(' ')}`);
  if (e.msg) parts.push(e.msg);
  return parts.join(' ');
}

/**
 * A cloud-init reporting event (cloudinit/reporting/events.py, as its webhook handler posts it:
 * name, event_type start|finish, result SUCCESS|WARN|FAIL, timestamp in epoch seconds) in this
 * protocol, so the seed server shows cloud-init's stages and imgforge's on one timeline.
 */
export function fromCloudInit(node: string, boot: string, upAtEpoch: (t: number) => number, r: {
  name: string; event_type: string; timestamp: number; result?: string; description?: string;
}): Event {
  const state: EventState = r.event_type === 'start' ? 'begin' : r.result === 'FAIL' ? 'fail' : 'ok';
  return {
    v: PROTOCOL_VERSION, node, boot, stage: `cloud-init/${r.name}`, state,
    time: new Date(r.timestamp * 1000).toISOString(), up: Math.max(0, upAtEpoch(r.timestamp)),
    ...(r.description ? { msg: r.description } : {}),
  };
}
