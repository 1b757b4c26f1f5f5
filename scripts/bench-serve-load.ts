// The load generator of scripts/bench-serve.ts: simulated nodes booting against a seed server
// (one undici client per node, or per request), each request's latency from its start to the last
// byte of its body. What a node asks is described in bench-serve.ts.
import { Client } from 'undici';

/** The files of a node's boot, in the order cloud-init and runtime/bootstrap.sh fetch them. */
export const GETS = ['meta-data', 'user-data', 'vendor-data', 'imgforge-bundle.tar', 'imgforge-secrets.tar'] as const;

interface Req { readonly path: string; readonly method: 'GET' | 'POST'; readonly kind: string; readonly headers?: Record<string, string>; readonly body?: string }

/** One node's boot: the five files from its enrolled seed URL, then its event posts. */
export function boot(host: string, secret: string, withPosts: boolean, posts: number): Req[] {
  const out: Req[] = GETS.map((f) => ({ path: `/nodes/${host}/${secret}/${f}`, method: 'GET', kind: f.endsWith('.tar') ? f : 'seed file' }));
  if (!withPosts) return out;
  const t = Date.parse('2026-12-02T08:00:00Z') / 1000;
  for (let i = 0; i < posts; i++) {
    if (i % 2 === 0) {
      // cloudinit/reporting/handlers.py WebHookHandler: one event a post, no Content-Type, the secret in the path.
      out.push({ path: `/events/${host}/${secret}`, method: 'POST', kind: 'event post', body: JSON.stringify({
        name: `init-network/stage-${i}`, description: 'running modules', event_type: i % 4 === 0 ? 'start' : 'finish', origin: 'cloudinit', timestamp: t + i, result: 'SUCCESS' }) });
    } else {
      // The node's spool: protocol events as JSON lines, with its secret as a bearer token.
      const line = (stage: string, state: string, up: number): string => JSON.stringify({ v: 1, node: host, boot: 'b00f1e5e', stage, state, time: new Date((t + up) * 1000).toISOString(), up });
      out.push({ path: `/events/${host}`, method: 'POST', kind: 'event post', headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/x-ndjson' },
        body: ['bundle', 'layout', 'prepare'].flatMap((s, k) => [line(s, 'begin', 10 * i + k), line(s, 'ok', 10 * i + k + 0.5)]).join('\n') });
    }
  }
  return out;
}

export interface Load { readonly requests: number; readonly seconds: number; readonly bytes: number; readonly errors: number; readonly firstError: string | null;
  readonly latencies: Float64Array; readonly kinds: readonly string[]; readonly generatorCpu: number }

const pause = (ms: number): Promise<void> | undefined => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : undefined);

/** How the generator drives a server: what every node asks, how often, how many at once. */
export interface Drive { readonly withPosts: boolean; readonly thinkMs: number; readonly rounds: number; readonly concurrency: number; readonly posts: number; readonly freshConnections: boolean }

/** `rounds` × every node's boot, at most `concurrency` nodes in flight, one client per node (or per request). */
export async function drive(port: number, hosts: readonly string[], secrets: ReadonlyMap<string, string>, o: Drive): Promise<Load> {
  const { withPosts, thinkMs, rounds, concurrency, posts } = o;
  const queue = Array.from({ length: rounds }, () => hosts).flat();
  const perNode = boot('x', 'y', withPosts, posts).length;
  const latencies = new Float64Array(queue.length * perNode);
  const kinds: string[] = new Array<string>(latencies.length);
  let next = 0, done = 0, bytes = 0, errors = 0, firstError: string | null = null;
  const origin = `http://127.0.0.1:${port}`;
  const one = async (client: Client, r: Req): Promise<void> => {
    const t0 = performance.now();
    try {
      const res = await client.request({ path: r.path, method: r.method, headers: r.headers, body: r.body });
      for await (const chunk of res.body) bytes += (chunk as Buffer).length;
      if (res.statusCode < 200 || res.statusCode > 299) { errors++; firstError ??= `${r.method} ${r.path}: ${res.statusCode}`; }
    } catch (e) {
      errors++;
      firstError ??= `${r.method} ${r.path}: ${(e as Error).message}`;
    }
    const i = done++;
    latencies[i] = performance.now() - t0;
    kinds[i] = r.kind;
  };
  // Paced nodes start at random moments within one pause and wait 0.5-1.5 pauses: 200 nodes in lockstep would
  // ask for 200 bundles in the same millisecond, a burst no power-on makes.
  const wait = (): Promise<void> | undefined => pause(thinkMs * (0.5 + Math.random()));
  const worker = async (): Promise<void> => {
    await pause(thinkMs * Math.random());
    for (let n = next++; n < queue.length; n = next++) {
      const host = queue[n]!;
      const reqs = boot(host, secrets.get(host)!, withPosts, posts);
      if (o.freshConnections) {
        for (const r of reqs) { const c = new Client(origin); await one(c, r); await c.close(); await wait(); }
      } else {
        const c = new Client(origin, { keepAliveTimeout: 30_000 });
        for (const r of reqs) { await one(c, r); await wait(); }
        await c.close();
      }
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { requests: done, seconds, bytes, errors, firstError, latencies: latencies.subarray(0, done), kinds, generatorCpu: (cpu.user + cpu.system) / 1e6 };
}

