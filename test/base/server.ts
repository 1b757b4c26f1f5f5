import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the test server misbehaves, per path. */
export interface Route {
  readonly body: Buffer;
  /** Cut the connection after sending this many body bytes, for the first `times` requests. */
  readonly dropAfter?: number;
  readonly dropTimes?: number;
  /** Answer 200 with the whole body even when a Range is asked for. */
  readonly ignoreRange?: boolean;
  readonly status?: number;
}

export interface TestServer {
  readonly url: string;
  readonly requests: { path: string; range: string | undefined }[];
  close(): Promise<void>;
}

/** A loopback HTTP server with Range support (RFC 9110 §14) and scripted failures. */
export async function startServer(routes: Record<string, Route>): Promise<TestServer> {
  const requests: { path: string; range: string | undefined }[] = [];
  const drops = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push({ path, range: req.headers.range });
    const route = routes[path];
    if (!route || route.status) {
      res.writeHead(route?.status ?? 404).end();
      return;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !route.ignoreRange) {
      start = Number(m[1]);
      if (start >= route.body.length) {
        res.writeHead(416, { 'content-range': `bytes */${route.body.length}` }).end();
        return;
      }
      res.writeHead(206, { 'content-length': route.body.length - start, 'content-range': `bytes ${start}-${route.body.length - 1}/${route.body.length}` });
    } else {
      res.writeHead(200, { 'content-length': route.body.length, 'accept-ranges': 'bytes' });
    }
    const dropped = drops.get(path) ?? 0;
    if (route.dropAfter !== undefined && dropped < (route.dropTimes ?? 1)) {
      drops.set(path, dropped + 1);
      // FIN, not RST: a reset can make the client discard bytes it already received.
      res.write(route.body.subarray(start, start + route.dropAfter), () => res.socket?.end());
      return;
    }
    res.end(route.body.subarray(start));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
