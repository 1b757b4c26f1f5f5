/**
 * A node's timeline as the seed server shows it: each stage of the node's latest boot in the order
 * it began, its state now and how long it took (by the node's uptime, the clock a boot can trust:
 * a board without a battery reports 1970 until NTP), and the last lines it said (events with a
 * message). Read off the same events as its phase (pure).
 */
import { z } from 'zod';
import { EventState, type Event } from './events.ts';

/** How many of the latest boot's messages a node's status carries. */
export const LAST_LINES = 5;

export const TimelineEntry = z.strictObject({
  stage: z.string(),
  /** The stage's last state but notes: begin (running), retry, ok or fail. */
  state: EventState,
  /** From its first begin to its ok or fail, by the node's uptime; null while it runs, or with no begin. */
  seconds: z.number().nonnegative().nullable(),
});
export type TimelineEntry = z.output<typeof TimelineEntry>;

/** The latest boot's stages in the order they began, and its last messages (events naming a fact are the report's data, not lines). */
export function timelineOf(events: readonly Event[]): { timeline: TimelineEntry[]; lines: string[] } {
  const boot = [...events].reverse().find((e) => e.boot !== '')?.boot;
  // Cloud-init's events from before the node's first own event carry no boot id (event-post.ts): the first boot's.
  const first = new Set(events.map((e) => e.boot).filter((b) => b !== '')).size <= 1;
  const latest = events.filter((e) => e.boot === boot || (e.boot === '' && first));
  const stages = new Map<string, { state: Event['state']; start: number | null; end: number | null }>();
  for (const e of latest) {
    if (e.fact !== undefined) continue;
    const s = stages.get(e.stage) ?? { state: e.state, start: null, end: null };
    if (e.state === 'begin' && s.start === null) s.start = e.up;
    if (e.state !== 'note') s.state = e.state;
    if (e.state === 'ok' || e.state === 'fail') s.end = e.up;
    stages.set(e.stage, s);
  }
  const timeline = [...stages].map(([stage, s]) => ({
    stage, state: s.state, seconds: s.start !== null && s.end !== null && s.end >= s.start ? Math.round((s.end - s.start) * 10) / 10 : null,
  }));
  const lines = latest.filter((e) => e.msg && e.fact === undefined).slice(-LAST_LINES).map((e) => `${e.time.slice(11, 19)} ${e.stage} ${e.state}: ${e.msg}`);
  return { timeline, lines };
}

/**
 * The timeline in one line for people: "layout ok 30s, packages ok 92.5s, kubeadm-init begin".
 * Self-contained (no imports, no closure): the live page's script is given its source text, so
 * the page and `imgforge status` say the same.
 */
export function timelineLine(t: readonly { stage: string; state: string; seconds: number | null }[]): string {
  return t.map((e) => e.stage + ' ' + e.state + (e.seconds === null ? '' : ' ' + e.seconds + 's')).join(', ');
}
