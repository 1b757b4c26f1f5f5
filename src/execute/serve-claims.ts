/**
 * Claims on the server (protocol/serve-claims.ts has the contract): the claims and approvals in
 * memory and in the state folder, and `POST /claims/<hostname>`. Approvals are also written by
 * `imgforge approve`, another process, while the server runs: approvals.jsonl is read again
 * (when its size changed) before every claim is judged, so the node's next poll sees them.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { formatIssues } from '../errors/zod.ts';
import { bearerOf } from '../plan/serve-match.ts';
import {
  approvedByHost, ApprovalRecord, CLAIM_RETRY_SECONDS, CLAIM_TOKEN, ClaimBody, claimId, ClaimRecord, CLAIMS_PER_NODE, claimState, parseLines,
  tokenSha256, type ClaimState, type ClaimStatus,
} from '../protocol/serve-claims.ts';
import { addressOf, type ServeDeps, type ServeEnv } from './serve-deps.ts';

type Append = (file: string, ...values: unknown[]) => Promise<void>;

/** The nodes' claims and approvals: in memory for the server's answers and status, appended to the state folder. */
export class ClaimBook {
  readonly #dir: string;
  readonly #hosts: ReadonlySet<string>;
  readonly #append: Append;
  readonly #changed: () => void;
  /** Each node's claims in the order first posted. */
  readonly #claims = new Map<string, ClaimRecord[]>();
  /** Each node's approved claim (its token's SHA-256). */
  readonly #approved = new Map<string, string>();
  /** approvals.jsonl's size when last read: unchanged, it is not read again. */
  #approvalsSize = -1;

  private constructor(dir: string, hosts: readonly string[], append: Append, changed: () => void) {
    this.#dir = dir;
    this.#hosts = new Set(hosts);
    this.#append = append;
    this.#changed = changed;
  }

  /** The claims kept (claims.jsonl's text) and the approvals on disk, for these nodes. */
  static async load(dir: string, hosts: readonly string[], claimsText: string, append: Append, changed: () => void): Promise<ClaimBook> {
    const b = new ClaimBook(dir, hosts, append, changed);
    for (const c of parseLines(claimsText, ClaimRecord)) {
      const list = b.#claims.get(c.host) ?? [];
      if (b.#hosts.has(c.host) && !list.some((x) => x.tokenSha256 === c.tokenSha256)) b.#claims.set(c.host, [...list, c]);
    }
    await b.refresh();
    return b;
  }

  /** Take in approvals appended since the last read (by `imgforge approve`); whole lines only, as one may be half written. */
  async refresh(): Promise<void> {
    const path = join(this.#dir, 'approvals.jsonl');
    if ((await stat(path).then((s) => s.size, () => 0)) === this.#approvalsSize) return;
    const text = await readFile(path, 'utf8').catch(() => '');
    this.#approvalsSize = text === '' || text.endsWith('\n') ? Buffer.byteLength(text) : -1;
    let added = false;
    for (const [host, claim] of approvedByHost(parseLines(text.slice(0, text.lastIndexOf('\n') + 1), ApprovalRecord))) {
      if (!this.#hosts.has(host) || this.#approved.has(host)) continue;
      this.#approved.set(host, claim);
      added = true;
    }
    if (added) this.#changed();
  }

  /**
   * A claim posted: recorded the first time (in memory at once, so a second post racing it is
   * judged against it), approved at once with `approveFirst` when it is the node's only claim,
   * and judged. `written` resolves once what it changed is on disk.
   */
  post(claim: ClaimRecord, approveFirst: boolean): { state: ClaimState | 'full'; written: Promise<unknown> } {
    const { host, tokenSha256: sha } = claim;
    const list = this.#claims.get(host) ?? [];
    const writes: Promise<void>[] = [];
    if (!list.some((c) => c.tokenSha256 === sha)) {
      if (list.length >= CLAIMS_PER_NODE) return { state: 'full', written: Promise.resolve() };
      list.push(claim);
      this.#claims.set(host, list);
      writes.push(this.#append('claims.jsonl', claim));
    }
    if (approveFirst && !this.#approved.has(host) && list.length === 1) {
      this.#approved.set(host, sha);
      writes.push(this.#append('approvals.jsonl', { host, claim: sha, time: claim.time, by: 'approve-first' } satisfies ApprovalRecord));
    }
    if (writes.length > 0) this.#changed();
    return { state: claimState(claim, this.#approved), written: Promise.all(writes) };
  }

  /** The id of a node's approved claim, if it has one. */
  approvedId(host: string): string | undefined {
    const sha = this.#approved.get(host);
    return sha === undefined ? undefined : claimId(sha);
  }

  /** A node's claims as /status.json shows them. */
  statusOf(host: string): ClaimStatus[] {
    return (this.#claims.get(host) ?? []).map((c) => ({ id: claimId(c.tokenSha256), state: claimState(c, this.#approved), address: c.address, time: c.time }));
  }
}

/** POST /claims/<hostname>: answered 202 while pending, 200 with the enrolment secret once approved, 409 when another claim was. */
export function addClaimRoute(app: Hono<ServeEnv>, deps: ServeDeps, limit: MiddlewareHandler<ServeEnv>): void {
  const { plan, state, log, now } = deps;
  // The 200 is the enrolment secret: never over plain HTTP, which anyone on the LAN reads.
  const tls = plan.options.tls || plan.options.url.startsWith('https:');
  const no = (c: Context<ServeEnv>, status: 400 | 403 | 404 | 409 | 429 | 503, reason: string, extra: object = {}): Response =>
    c.json({ ...extra, reason, error: reason }, status);
  // Judged before a byte of the body is read; a refused body is left unread, so its connection is closed.
  const gate: MiddlewareHandler<ServeEnv> = async (c, next) => {
    const name = c.req.param('host')!;
    const host = plan.by.hostname.get(name);
    const token = bearerOf(c.req.header('authorization'));
    const why: [400 | 403 | 404, string] | null = !tls
      ? [403, 'claims need TLS: the answer is the node\'s enrolment secret (serve with --tls-cert and --tls-key, or behind a TLS proxy with --url https://...)']
      : host === undefined ? [404, `no node ${JSON.stringify(name)}`]
      : token === undefined || !CLAIM_TOKEN.test(token) ? [400, 'a claim needs Authorization: Bearer <claim token> (32 to 128 lowercase hex digits)'] : null;
    if (host !== undefined) c.set('node', host);
    if (!why) return next();
    c.header('connection', 'close');
    return no(c, ...why);
  };
  app.post('/claims/:host', gate, limit, async (c) => {
    const host = c.get('node');
    const text = await c.req.text();
    let body: unknown = {};
    try {
      if (text.trim()) body = JSON.parse(text);
    } catch {
      return no(c, 400, 'the body is not JSON: send nothing, or {"mac"?, "uuid"?, "serial"?}');
    }
    const ids = ClaimBody.safeParse(body);
    if (!ids.success) return no(c, 400, `not a claim: ${formatIssues(ids.error.issues).slice(0, 5).join('; ')}`);
    const sha = tokenSha256(bearerOf(c.req.header('authorization'))!), id = claimId(sha), address = addressOf(c), time = new Date(now()).toISOString();
    await state.claims.refresh();
    const out = state.claims.post({ ...ids.data, host, tokenSha256: sha, address, time }, plan.options.approveFirst);
    try {
      await out.written;
    } catch (e) {
      log({ time, error: `could not keep ${host}'s claim: ${(e as Error).message}` });
      c.header('retry-after', '5');
      return no(c, 503, 'the server could not keep the claim; post it again');
    }
    if (out.state === 'full') {
      c.header('retry-after', String(CLAIM_RETRY_SECONDS));
      return no(c, 429, `${host} has ${CLAIMS_PER_NODE} claims already: approve one (imgforge approve ${host} <id>)`);
    }
    if (out.state === 'refused') {
      return no(c, 409, `node ${host} already has an approved claim ${state.claims.approvedId(host)}; a claim with another token is refused (and shown in imgforge status)`,
        { claim: id, state: 'refused' });
    }
    if (out.state === 'pending') {
      c.header('retry-after', String(CLAIM_RETRY_SECONDS));
      return c.json({ claim: id, state: 'pending', approve: `imgforge approve ${host} ${id}` }, 202);
    }
    const secret = deps.enrolments.get(host);
    if (secret === undefined) throw new Error(`no enrolment secret for ${host}`);
    const answer = `${secret}\n`;
    const digest = createHash('sha256').update(answer).digest('hex');
    // Logged as every secret served: who asked, by which claim; never the token or the secret.
    log({ time, secret: 'enrolment-secret', node: host, address, proof: `claim ${id}`, sha256: digest });
    await state.servedSecret({ node: host, file: 'enrolment-secret', address, proof: `claim ${id}`, sha256: digest, time });
    return c.body(answer, 200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  });
}
