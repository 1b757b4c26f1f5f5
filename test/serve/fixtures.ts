// The seed server under test: its test cluster planned once per process, and servers started on
// an ephemeral port of 127.0.0.1 with a state folder of their own; requests go over real HTTP.
import { request } from 'node:http';
import { join } from 'node:path';
import { prepareServe, type PreparedServe, type ServeFlags } from '../../src/cli/commands/serve.ts';
import { startServe, type RunningServer, type TlsFiles } from '../../src/execute/serve.ts';
import type { LogRecord } from '../../src/execute/serve-app.ts';
import { ServeState } from '../../src/execute/serve-state.ts';
import type { ServeLimits, ServePlan } from '../../src/plan/serve.ts';
import { ROOT, tempDir } from '../helpers.ts';

export const CONFIG = join(ROOT, 'test/serve/serve.config.mjs');
/** What the nodes are told: not the ephemeral port, as a server behind a forwarded port would be. */
export const URL_TOLD = 'http://seed.test:8080';

export const flags = (extra: Partial<ServeFlags> = {}): Parameters<typeof prepareServe>[0] => ({
  config: CONFIG, json: true, debug: false, listen: '127.0.0.1:0', url: URL_TOLD, rate: '0', staleAfter: '900', dryRun: false, reveal: false, force: false, ...extra,
});

let prepared: Promise<PreparedServe> | undefined;
/** The test cluster's plan (secrets and enrolment key made on first use in the test process's secrets folder). */
export function preparedOnce(): Promise<PreparedServe> {
  prepared ??= prepareServe(flags(), { out: () => undefined, err: () => undefined });
  return prepared;
}

export interface TestServer {
  readonly base: string;
  readonly port: number;
  readonly stateDir: string;
  readonly logs: LogRecord[];
  readonly running: RunningServer;
  close(): Promise<void>;
}

/** Serve a plan (with other limits, another state folder or a clock) on an ephemeral port. */
export async function serveTest(plan: ServePlan, opts: { limits?: Partial<ServeLimits>; stateDir?: string; staleAfterSeconds?: number; now?: () => number; tls?: TlsFiles;
  approveFirst?: boolean; neighbour?: (address: string) => Promise<string | null> } = {}): Promise<TestServer> {
  const stateDir = opts.stateDir ?? tempDir('imgforge-serve-state-');
  const p: ServePlan = { ...plan, options: { ...plan.options, stateDir, limits: { ...plan.options.limits, ...opts.limits }, staleAfterSeconds: opts.staleAfterSeconds ?? plan.options.staleAfterSeconds,
    approveFirst: opts.approveFirst ?? plan.options.approveFirst } };
  const state = await ServeState.open(stateDir, p.nodes.map((n) => n.hostname), p.options.limits.unknownMax);
  const logs: LogRecord[] = [];
  const running = await startServe({ plan: p, state, log: (r) => logs.push(r), now: opts.now ?? Date.now, neighbour: opts.neighbour ?? (async () => null),
    enrolments: (await preparedOnce()).enrolments }, opts.tls ?? null);
  return { base: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${running.port}`, port: running.port, stateDir, logs, running, close: () => running.close(500) };
}

export interface Raw { readonly status: number; readonly headers: Record<string, string | string[] | undefined>; readonly body: Buffer }

/** A request with its path sent exactly as given (fetch would resolve "..", as any URL parser does). */
/** A body given as pieces goes out in chunked transfer encoding, without a Content-Length. */
export function raw(port: number, method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer | readonly string[]; from?: string } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: opts.headers ?? {}, ...(opts.from ? { localAddress: opts.from } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (Array.isArray(opts.body)) {
      for (const piece of opts.body) req.write(piece);
      req.end();
    } else req.end(opts.body);
  });
}

/** One protocol event of a node (src/protocol/events.ts). */
export const event = (node: string, stage: string, state: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ v: 1, node, boot: 'b0071d', stage, state, time: '2026-12-01T10:00:00Z', up: 12.5, ...extra });
