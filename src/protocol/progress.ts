import type { Event } from './events.ts';

/** Where a node is, read off its events: what `lab status`, `lab up` and the seed server show. */
export interface NodeProgress {
  /** Boots seen (distinct boot ids). */
  readonly boots: number;
  /** The stage running in the latest boot (begun, not ended), else the last one that ended. */
  readonly stage: string | null;
  readonly state: Event['state'] | null;
  /** The node's report on its latest boot: every stage done (ok) or not (fail); null until it comes. */
  readonly reported: 'ok' | 'fail' | null;
  /** The last failure or retry of the latest boot, with its message. */
  readonly lastProblem: string | null;
  /** Seconds since the latest boot's kernel started, at its last event. */
  readonly up: number | null;
}

/** Events of one node in the order they came; the latest boot is the one of the last event. */
export function nodeProgress(events: readonly Event[]): NodeProgress {
  const last = events.at(-1);
  const boots = new Set(events.map((e) => e.boot)).size;
  if (!last) return { boots: 0, stage: null, state: null, reported: null, lastProblem: null, up: null };
  // Report notes are the facts `imgforge test` judges, not progress.
  const current = events.filter((e) => e.boot === last.boot && !(e.stage === 'report' && e.state === 'note'));
  const report = current.findLast((e) => e.stage === 'report' && (e.state === 'ok' || e.state === 'fail'));
  const steps = current.filter((e) => e.stage !== 'report');
  const open = new Map<string, Event>();
  for (const e of steps) {
    if (e.state === 'begin' || e.state === 'retry') open.set(e.stage, e);
    else if (e.state === 'ok' || e.state === 'fail') open.delete(e.stage);
  }
  const running = [...open.values()].at(-1);
  const at = running ?? steps.at(-1);
  const problem = current.findLast((e) => e.state === 'fail' || e.state === 'retry');
  return {
    boots, stage: at?.stage ?? null, state: at?.state ?? null,
    reported: report ? (report.state === 'ok' ? 'ok' : 'fail') : null,
    lastProblem: problem ? `${problem.stage} ${problem.state}${problem.msg ? `: ${problem.msg}` : ''}` : null,
    up: last.up,
  };
}
