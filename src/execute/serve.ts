/**
 * `imgforge serve` applied: the plan's server listening, and stopped gracefully (no new
 * connections, requests in flight answered, every state append ended).
 */
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { imgforgeError } from '../errors/error.ts';
import { serveApp, type ServeDeps } from './serve-app.ts';

/** PEM certificate (chain) and key, read before the server starts. */
export interface TlsFiles { readonly cert: Buffer; readonly key: Buffer }

export interface RunningServer {
  /** The address and port bound (the port the OS chose for port 0). */
  readonly address: string;
  readonly port: number;
  /** Stop accepting, answer what is in flight (connections still open after `graceMs` are cut), end every state append. */
  close(graceMs?: number): Promise<void>;
}

/** Listen as the plan says; a port in use or an address this host lacks is a catalogued error. */
export async function startServe(deps: ServeDeps, tls: TlsFiles | null): Promise<RunningServer> {
  const { host, port } = deps.plan.options.listen;
  const app = serveApp(deps);
  const server = createAdaptorServer({
    fetch: app.fetch,
    ...(tls ? { createServer: createHttpsServer, serverOptions: { cert: tls.cert, key: tls.key } } : {}),
  }) as unknown as Server;
  // cloud-init reads seeds without a socket timeout (url_helper.readurl, timeout=None): the server
  // answers at once; these bound only a client that itself stalls mid-request.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const why = (e: NodeJS.ErrnoException): string => (e.code === 'EADDRNOTAVAIL' ? 'this host has no such address' : e.code === 'EACCES' ? 'not permitted' : e.message);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
      ? imgforgeError('ServePortInUse', { address: host, port })
      : imgforgeError('ServeListenFailed', { address: host, port, detail: why(e) }, { cause: e })));
    server.once('listening', () => resolve());
    server.listen(port, host);
  });
  const bound = server.address() as AddressInfo;
  return {
    address: bound.address,
    port: bound.port,
    close: async (graceMs = 5000) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(cut);
      await deps.state.flush();
    },
  };
}
