/**
 * What the seed server's HTTP side is given, and what its route modules share (serve-app.ts,
 * serve-claims.ts, serve-page.ts import it; none imports another).
 */
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import type { ServePlan } from '../plan/serve.ts';
import type { ServeState } from './serve-state.ts';

/** One structured log record (the CLI writes them as JSON lines). */
export type LogRecord = Readonly<Record<string, unknown>>;

export interface ServeDeps {
  readonly plan: ServePlan;
  readonly state: ServeState;
  readonly log: (record: LogRecord) => void;
  readonly now: () => number;
  /** The requester's MAC from the neighbour table, for the unknown-machine list. */
  readonly neighbour: (address: string) => Promise<string | null>;
  /** Each node's enrolment secret, the answer to its approved claim (the plan holds only their hashes). */
  readonly enrolments: ReadonlyMap<string, string>;
}

export type ServeEnv = { Bindings: HttpBindings; Variables: { node: string } };

/** The requester's address as logged and kept (an IPv4 address without its IPv6 mapping). */
export const addressOf = (c: Context<ServeEnv>): string => (c.env.incoming.socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
