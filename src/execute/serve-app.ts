/**
 * The seed server's HTTP side (Hono on node:http): each request is checked (target, rate),
 * looked up in the plan (plan/serve-match.ts) and answered as it says; what happens is kept in
 * the state and logged. Hono parses a body whatever its Content-Type, as cloud-init's webhook
 * reporter sends none (Fastify answers those 415, Express drops the body: the seed-server
 * reference's measurements).
 */
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { BUNDLE_NAME, SECRETS_NAME } from '../plan/bundle.ts';
import { badTarget, bearerOf, redactPath, resolveFile, resolvePoster, type IdentifierKind } from '../plan/serve-match.ts';
import { parseEventPost } from '../protocol/event-post.ts';
import { addClaimRoute } from './serve-claims.ts';
import { RateLimiter } from './serve-limit.ts';
import { addLivePage } from './serve-page.ts';
import { addressOf, type ServeDeps, type ServeEnv } from './serve-deps.ts';

export type { LogRecord, ServeDeps, ServeEnv } from './serve-deps.ts';

const TYPES: Readonly<Record<string, string>> = { [BUNDLE_NAME]: 'application/x-tar', [SECRETS_NAME]: 'application/x-tar' };

export function serveApp(deps: ServeDeps): Hono<ServeEnv> {
  const { plan, state, log, now } = deps;
  const limiter = new RateLimiter(plan.options.limits.perMinute, plan.options.limits.burst);
  const iso = (): string => new Date(now()).toISOString();
  const app = new Hono<ServeEnv>();
  const refuse = (c: Context<ServeEnv>, status: 400 | 401 | 403 | 404 | 413 | 429 | 503, error: string): Response => {
    if (status === 401) c.header('www-authenticate', 'Bearer realm="imgforge"');
    // The rest of an oversized body is not read: the connection cannot carry another request.
    if (status === 413) c.header('connection', 'close');
    return c.json({ error }, status);
  };

  // Every request: the raw target checked before the URL parser normalises it, the rate, one log record.
  app.use('*', async (c, next) => {
    const start = now();
    const address = addressOf(c);
    const raw = c.env.incoming.url ?? '/';
    const bad = badTarget(raw);
    const wait = bad ? null : limiter.take(address, start);
    let early: Response | undefined;
    if (bad) early = refuse(c, 400, bad);
    else if (wait !== null) {
      c.header('retry-after', String(wait));
      early = refuse(c, 429, `too many requests from ${address}`);
    } else await next();
    log({ time: new Date(start).toISOString(), address, method: c.req.method, path: redactPath(raw), status: (early ?? c.res).status, ms: now() - start,
      node: c.get('node') ?? null, agent: c.req.header('user-agent') ?? null });
    return early;
  });

  const sendFile = async (c: Context<ServeEnv>, by: IdentifierKind, value: string, enrolment: string | undefined, name: string): Promise<Response> => {
    const address = addressOf(c);
    const out = resolveFile(plan, { by, value }, enrolment, name, bearerOf(c.req.header('authorization')));
    if (out.status === 404 && out.unknown) {
      const seen = { ...out.unknown, address, neighbourMac: await deps.neighbour(address), userAgent: c.req.header('user-agent') ?? null, file: name };
      await state.sawUnknown(seen, iso());
    }
    if (out.status !== 200) {
      if ('node' in out) c.set('node', out.node.hostname);
      return refuse(c, out.status, out.reason);
    }
    const host = out.node.hostname;
    c.set('node', host);
    const time = iso();
    // Not awaited: the fetch is shown at once from memory, and a record lost in a crash costs nothing (the node
    // asks again); waiting on it queued every seed file behind the disk's appends of events.
    void state.fetched(host, { file: name, address, time }).catch((e: Error) => log({ time, error: `could not record a fetch: ${e.message}` }));
    if (out.file.secret) {
      // Every secret served, with who asked: the audit trail (state) and the log.
      log({ time, secret: name, node: host, address, proof: out.proof, sha256: out.file.sha256 });
      await state.servedSecret({ node: host, file: name, address, proof: out.proof, sha256: out.file.sha256, time });
    }
    const content = out.file.content;
    // A view of the plan's bytes, not a copy (which a bundle, about 170 KB, cost every request): they never change.
    return c.body(typeof content === 'string' ? content : new Uint8Array(content.buffer as ArrayBuffer, content.byteOffset, content.byteLength), 200, {
      'content-type': TYPES[name] ?? 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
    });
  };
  app.get('/nodes/:host/:file', (c) => sendFile(c, 'hostname', c.req.param('host'), undefined, c.req.param('file')));
  app.get('/nodes/:host/:enrolment/:file', (c) => sendFile(c, 'hostname', c.req.param('host'), c.req.param('enrolment'), c.req.param('file')));
  for (const by of ['mac', 'serial', 'uuid'] as const) app.get(`/by-${by}/:value/:file`, (c) => sendFile(c, by, c.req.param('value')!, undefined, c.req.param('file')!));
  // The requester named by its MAC in this host's neighbour table (/proc/net/arp): a machine on the
  // server's own LAN, which needs to put nothing in the URL. Behind a router or NAT there is no entry.
  app.get('/by-lan/:file', async (c) => {
    const address = addressOf(c);
    const mac = await deps.neighbour(address);
    if (mac === null) return refuse(c, 404, `${address} is not in this host's neighbour table: /by-lan/ names machines on the server's own LAN only`);
    return sendFile(c, 'mac', mac, undefined, c.req.param('file'));
  });

  const maxSize = plan.options.limits.bodyBytes;
  const limit = bodyLimit({ maxSize, onError: (c) => refuse(c as Context<ServeEnv>, 413, `the body is larger than ${maxSize} bytes`) });
  // Who posts is judged before a byte of the body is read.
  const poster = async (c: Context<ServeEnv>, next: () => Promise<void>): Promise<Response | void> => {
    const who = resolvePoster(plan, c.req.param('host')!, c.req.param('enrolment'), bearerOf(c.req.header('authorization')));
    if (who.status !== 200) {
      c.header('connection', 'close'); // its body is left unread
      return refuse(c, who.status, who.reason);
    }
    c.set('node', who.node.hostname);
    await next();
  };
  const postEvents = async (c: Context<ServeEnv>): Promise<Response> => {
    const host = c.get('node');
    const r = parseEventPost(await c.req.text(), host, state.postContext(host));
    if ('problems' in r) return c.json({ error: 'not events of the protocol; none was kept', problems: r.problems.slice(0, 20) }, 400);
    try {
      await state.addEvents(host, r.events, iso());
    } catch (e) {
      log({ time: iso(), error: `could not keep ${host}'s events: ${(e as Error).message}` });
      c.header('retry-after', '5');
      return refuse(c, 503, 'the server could not keep the events; post them again');
    }
    return c.json({ accepted: r.events.length }, 202);
  };
  app.post('/events/:host', poster, limit, postEvents);
  app.post('/events/:host/:enrolment', poster, limit, postEvents);
  addClaimRoute(app, deps, limit);

  app.get('/status.json', async (c) => {
    await state.claims.refresh(); // approvals `imgforge approve` wrote since a node last polled
    return c.json(state.status(plan, now()));
  });
  app.get('/unknown.json', (c) => c.json(state.unknown()));
  addLivePage(app, deps);
  app.notFound((c) => {
    // An empty DMI value (no SMBIOS: most ARM boards) makes "/by-serial//user-data" (cloudinit/dmi.py): said so, not "no such route".
    const empty = /^\/by-(mac|serial|uuid)\/\/([^/]+)$/.exec(c.req.path);
    if (empty && c.req.method === 'GET') return sendFile(c, empty[1] as IdentifierKind, '', undefined, empty[2]!);
    return refuse(c, 404, 'no such route (imgforge serve --dry-run lists them)');
  });
  app.onError((e, c) => {
    log({ time: iso(), error: e.stack ?? e.message });
    return c.json({ error: 'internal error' }, 500);
  });
  return app;
}
