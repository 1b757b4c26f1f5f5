import { closeSync, openSync, writeSync } from 'node:fs';
import { copyFile, rename, stat, truncate } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import { imgforgeError } from '../errors/error.ts';

export interface DownloadOptions {
  /** Attempts after the first, each resuming where the last stopped. @default 4 */
  readonly retries?: number;
  /** First retry delay; doubles each time. @default 1000 */
  readonly retryDelayMs?: number;
  readonly onProgress?: (received: number, total: number | null) => void;
  readonly dispatcher?: Dispatcher;
}

// undici is loaded on the first download only: a build from a cached or local base never pays
// its start-up memory (about 20 MiB RSS).
let undici: Promise<{ request: typeof import('undici').request; dispatcher: Dispatcher }> | undefined;
const http = (): NonNullable<typeof undici> => (undici ??= import('undici').then(({ Agent, interceptors, request }) => ({
  request,
  dispatcher: new Agent({ connectTimeout: 30_000, bodyTimeout: 60_000, headersTimeout: 60_000 }).compose(interceptors.redirect({ maxRedirections: 5 })),
})));

async function sizeOf(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

/** An HTTP failure that another attempt will not fix (4xx other than a stale range). */
class Permanent extends Error {}

/** bytes a-b/total -> total */
const totalFromRange = (header: string | string[] | undefined): number | null => {
  const m = /\/(\d+)\s*$/.exec(String(header ?? ''));
  return m ? Number(m[1]) : null;
};

async function attempt(url: string, part: string, options: DownloadOptions): Promise<void> {
  const have = await sizeOf(part);
  const { request, dispatcher } = await http();
  const res = await request(url, {
    dispatcher: options.dispatcher ?? dispatcher,
    headers: have > 0 ? { range: `bytes=${have}-` } : {},
  });
  if (res.statusCode === 416 && have > 0 && totalFromRange(res.headers['content-range']) === have) {
    await res.body.dump();
    return; // RFC 9110 §15.5.17: nothing left to send, the partial file is complete
  }
  if (res.statusCode !== 200 && res.statusCode !== 206) {
    await res.body.dump();
    const msg = `HTTP ${res.statusCode}`;
    if (res.statusCode === 416) {
      await truncate(part, 0);
      throw new Error(`${msg}: the partial download no longer matches; starting over`);
    }
    throw res.statusCode >= 400 && res.statusCode < 500 ? new Permanent(msg) : new Error(msg);
  }
  // A server that ignores Range answers 200 with the whole file: start over rather than append.
  const resume = res.statusCode === 206;
  const start = resume ? have : 0;
  const length = Number(res.headers['content-length'] ?? NaN);
  const total = resume ? totalFromRange(res.headers['content-range']) : Number.isFinite(length) ? length : null;
  let received = start;
  // Each chunk is written synchronously as it arrives (flowing mode), so a connection that drops
  // loses nothing already received: an async reader could have chunks still buffered when the
  // stream errors, and those would be thrown away. The next attempt resumes exactly here.
  const fd = openSync(part, resume ? 'a' : 'w', 0o600);
  try {
    await new Promise<void>((resolve, reject) => {
      res.body.on('data', (chunk: Buffer) => {
        writeSync(fd, chunk);
        received += chunk.length;
        options.onProgress?.(received, total);
      });
      res.body.on('end', resolve);
      res.body.on('error', reject);
    });
  } finally {
    closeSync(fd);
  }
  if (total !== null && received !== total) throw new Error(`connection closed after ${received} of ${total} bytes`);
}

/** The system error code of a failure to reach the host at all (DNS, routing, refused), if that is what it was. */
function networkCode(e: unknown): string | undefined {
  for (let x: unknown = e; x && typeof x === 'object'; x = (x as { cause?: unknown }).cause) {
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string' && ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT'].includes(code)) return code;
  }
  return undefined;
}

/**
 * Download url to dest. Bytes accumulate in `${dest}.part`, which survives failures so the next
 * attempt (or the next run) resumes with a Range request; dest appears only once complete.
 */
export async function download(url: string, dest: string, options: DownloadOptions = {}): Promise<void> {
  const part = `${dest}.part`;
  if (url.startsWith('file:')) {
    await copyFile(fileURLToPath(url), part);
    await rename(part, dest);
    return;
  }
  const retries = options.retries ?? 4;
  let delay = options.retryDelayMs ?? 1000;
  for (let i = 0; ; i++) {
    try {
      await attempt(url, part, options);
      await rename(part, dest);
      return;
    } catch (e) {
      if (e instanceof Permanent || i >= retries) {
        const code = networkCode(e);
        if (code && !(await stat(part).then((s) => s.size > 0, () => false))) {
          throw imgforgeError('DownloadUnreachable', { url, host: new URL(url).host, code }, { cause: e });
        }
        throw imgforgeError('DownloadFailed', { url, detail: (e as Error).message }, { cause: e });
      }
      await new Promise((r) => setTimeout(r, delay));
      delay *= 2;
    }
  }
}
