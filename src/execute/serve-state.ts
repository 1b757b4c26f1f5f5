/**
 * What the seed server remembers, in memory and in its state folder, so a restart loses no
 * node's progress: each node's events (events/<host>.jsonl, protocol lines as the node's own
 * spool holds them), its seed fetches (fetches.jsonl), the unknown machines (unknown.jsonl, one
 * line per first sighting), every secret served (secrets-served.jsonl, the audit trail) and the
 * claims of nodes booted from a generic image (claims.jsonl, approvals.jsonl: serve-claims.ts).
 * Files are only appended to; each file's appends are queued (those waiting are written
 * together), so lines never interleave.
 */
import { appendFile, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEvents, type Event } from '../protocol/events.ts';
import type { PostContext } from '../protocol/event-post.ts';
import { clusterProgress, Fetch, nodeStatus, STATUS_VERSION, UnknownMachine, type ServeStatus } from '../protocol/serve-status.ts';
import type { ServePlan } from '../plan/serve.ts';
import { ClaimBook } from './serve-claims.ts';

/** Events kept in memory per node (the file keeps all): many boots' worth. */
const KEEP_EVENTS = 5000;

/** A state file's text; a torn last line (a power cut mid-append) is ended, so the next append starts a line of its own. */
async function readState(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  if (text && !text.endsWith('\n')) await appendFile(path, '\n');
  return text;
}

/** A state file's JSON lines; a line that does not parse (the torn one) is skipped, as parseEvents skips one. */
const lines = async (path: string): Promise<unknown[]> =>
  (await readState(path)).split('\n').flatMap((l) => { try { return l.trim() ? [JSON.parse(l) as unknown] : []; } catch { return []; } });

export class ServeState {
  readonly dir: string;
  readonly #unknownMax: number;
  readonly #events = new Map<string, Event[]>();
  readonly #lastEvent = new Map<string, string>();
  readonly #fetches = new Map<string, Fetch>();
  readonly #unknown = new Map<string, UnknownMachine>();
  #dropped = 0;
  readonly #queues = new Map<string, Promise<void>>();
  /** Per file, the lines gathered while an append to it is on its way: they go in the next, one write for all. */
  readonly #gathering = new Map<string, { text: string }>();
  readonly #listeners = new Set<() => void>();
  #claims: ClaimBook | undefined;

  private constructor(dir: string, unknownMax: number) {
    this.dir = dir;
    this.#unknownMax = unknownMax;
  }

  /** The state folder, made if missing, and what it holds for these nodes. */
  static async open(dir: string, hostnames: readonly string[], unknownMax: number): Promise<ServeState> {
    const s = new ServeState(dir, unknownMax);
    await mkdir(join(dir, 'events'), { recursive: true, mode: 0o700 });
    for (const host of hostnames) {
      const path = join(dir, 'events', `${host}.jsonl`);
      const { events } = parseEvents(await readState(path));
      if (events.length === 0) continue;
      s.#events.set(host, events.slice(-KEEP_EVENTS));
      s.#lastEvent.set(host, (await stat(path)).mtime.toISOString());
    }
    for (const l of await lines(join(dir, 'fetches.jsonl'))) {
      const r = Fetch.extend({ node: Fetch.shape.file }).safeParse(l);
      if (r.success && hostnames.includes(r.data.node)) s.#fetches.set(r.data.node, { file: r.data.file, address: r.data.address, time: r.data.time });
    }
    for (const l of await lines(join(dir, 'unknown.jsonl'))) {
      const r = UnknownMachine.safeParse(l);
      if (r.success && s.#unknown.size < unknownMax) s.#unknown.set(`${r.data.by}\0${r.data.value}\0${r.data.address}`, r.data);
    }
    s.#claims = await ClaimBook.load(dir, hostnames, await readState(join(dir, 'claims.jsonl')), (file, ...v) => s.#append(file, ...v), () => s.#changed());
    return s;
  }

  /**
   * Append lines to a file of the state folder, after every earlier append to it; resolves once
   * they are written. Lines that arrive while an append is on its way are gathered and written
   * together in the next: one open, write and close per file at a time, however many requests
   * wait (one append per request, one after another, left a loaded server idle waiting on them).
   */
  #append(file: string, ...values: unknown[]): Promise<void> {
    const text = values.map((v) => `${JSON.stringify(v)}\n`).join('');
    const gathering = this.#gathering.get(file);
    if (gathering) {
      gathering.text += text;
      return this.#queues.get(file)!;
    }
    const batch = { text };
    this.#gathering.set(file, batch);
    const next = (this.#queues.get(file) ?? Promise.resolve()).catch(() => undefined).then(() => {
      this.#gathering.delete(file); // later lines go in the next append
      return appendFile(join(this.dir, file), batch.text, { mode: 0o600 });
    });
    this.#queues.set(file, next);
    return next;
  }

  /** Call `fn` after every change a status shows (events, fetches, unknown machines); returns the unsubscribe. */
  onChange(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  #changed(): void {
    for (const fn of this.#listeners) fn();
  }

  /** The nodes' claims and their approvals. */
  get claims(): ClaimBook {
    return this.#claims!;
  }

  events(host: string): readonly Event[] {
    return this.#events.get(host) ?? [];
  }

  /** What a cloud-init event lacks: the node's latest boot id, and its uptime extrapolated from its latest event. */
  postContext(host: string): PostContext {
    const last = this.events(host).filter((e) => e.boot !== '').at(-1);
    const at = last ? Date.parse(last.time) / 1000 : NaN;
    return { boot: last?.boot ?? '', upAt: (t) => (last && Number.isFinite(at) ? last.up + (t - at) : 0) };
  }

  /** Keep a node's events: on disk first, so an accepted post survives a restart. */
  async addEvents(host: string, events: readonly Event[], receivedAt: string): Promise<void> {
    await this.#append(join('events', `${host}.jsonl`), ...events);
    this.#events.set(host, [...this.events(host), ...events].slice(-KEEP_EVENTS));
    this.#lastEvent.set(host, receivedAt);
    this.#changed();
  }

  async fetched(host: string, fetch: Fetch): Promise<void> {
    this.#fetches.set(host, fetch);
    this.#changed();
    await this.#append('fetches.jsonl', { node: host, ...fetch });
  }

  /** A request under an identifier no node has: listed (once per identifier and address), counted after. */
  async sawUnknown(seen: Omit<UnknownMachine, 'firstSeen' | 'lastSeen' | 'count'>, time: string): Promise<void> {
    const key = `${seen.by}\0${seen.value}\0${seen.address}`;
    const had = this.#unknown.get(key);
    if (had) {
      this.#unknown.set(key, { ...had, lastSeen: time, count: had.count + 1, file: seen.file });
      this.#changed();
      return;
    }
    if (this.#unknown.size >= this.#unknownMax) {
      this.#dropped++;
      return;
    }
    const entry = { ...seen, firstSeen: time, lastSeen: time, count: 1 };
    this.#unknown.set(key, entry);
    this.#changed();
    await this.#append('unknown.jsonl', entry);
  }

  /** The audit trail of secrets handed out. */
  servedSecret(record: { node: string; file: string; address: string; proof: string; sha256: string; time: string }): Promise<void> {
    return this.#append('secrets-served.jsonl', record);
  }

  unknown(): { unknown: UnknownMachine[]; dropped: number } {
    return { unknown: [...this.#unknown.values()], dropped: this.#dropped };
  }

  status(plan: ServePlan, now: number): ServeStatus {
    return {
      v: STATUS_VERSION, cluster: plan.cluster, url: plan.options.url, time: new Date(now).toISOString(),
      progress: clusterProgress(plan.nodes.map((n) => ({ hostname: n.hostname, role: n.role, events: this.events(n.hostname) }))),
      nodes: plan.nodes.map((n) => nodeStatus(n, this.events(n.hostname), this.#lastEvent.get(n.hostname) ?? null, this.#fetches.get(n.hostname) ?? null,
        now, plan.options.staleAfterSeconds, this.claims.statusOf(n.hostname))),
      unknown: [...this.#unknown.values()], unknownDropped: this.#dropped,
    };
  }

  /** Every append begun has ended (graceful shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((p) => p.catch(() => undefined)));
  }
}

/** The MAC this host's neighbour table has for an IPv4 address, or null (another LAN, IPv6, not Linux). */
export async function neighbourMac(address: string, arp = '/proc/net/arp'): Promise<string | null> {
  const text = await readFile(arp, 'utf8').catch(() => '');
  // IP address, HW type, Flags, HW address, Mask, Device (proc(5)); flags 0x0 is an incomplete entry.
  const row = text.split('\n').slice(1).map((l) => l.trim().split(/\s+/)).find((f) => f[0] === address && f[2] !== '0x0');
  return row?.[3] && row[3] !== '00:00:00:00:00:00' ? row[3].toLowerCase() : null;
}
