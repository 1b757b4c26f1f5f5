import { imgforgeError } from '../../errors/error.ts';
import { claimLine } from '../../protocol/serve-claims.ts';
import { progressLine, ServeStatus, type NodeStatus } from '../../protocol/serve-status.ts';
import { timelineLine } from '../../protocol/timeline.ts';
import type { GlobalOptions } from '../context.ts';
import { json, type Io } from '../output.ts';

export interface StatusFlags {
  /** The seed server's URL, as `imgforge serve` prints it. */
  readonly server: string;
  /** Nodes whose timeline and last messages to print too. */
  readonly nodes?: readonly string[];
}

const WHY: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'nothing listens there', ENOTFOUND: 'no such host', EHOSTUNREACH: 'the host cannot be reached', ETIMEDOUT: 'no answer within 10 s',
  UND_ERR_SOCKET: 'the connection closed', DEPTH_ZERO_SELF_SIGNED_CERT: 'its certificate is self-signed (NODE_EXTRA_CA_CERTS=<its certificate> trusts it)',
};

/** The server's status, checked against the protocol before anything is printed. */
export async function readStatus(server: string): Promise<ServeStatus> {
  const url = `${server.replace(/\/+$/, '')}/status.json`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000), headers: { accept: 'application/json' } });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const code = (e as Error).name === 'TimeoutError' ? 'ETIMEDOUT' : cause?.code;
    const words = code ? WHY[code] : undefined;
    throw imgforgeError('StatusUnreachable', { url, detail: words ? `${words} (${code})` : code ?? cause?.message ?? (e as Error).message });
  }
  if (!res.ok) throw imgforgeError('StatusInvalid', { url, detail: `it answered HTTP ${res.status}` });
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    throw imgforgeError('StatusInvalid', { url, detail: 'the answer is not JSON' });
  }
  const r = ServeStatus.safeParse(body);
  if (!r.success) throw imgforgeError('StatusInvalid', { url, detail: r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(answer)'}: ${i.message}`).join('; ') });
  return r.data;
}

function nodeLine(n: NodeStatus): string {
  const where = n.stage ? `${n.stage} ${n.state}` : '-';
  const heard = n.lastEvent ? `last event ${n.lastEvent}` : n.lastFetch ? `fetched ${n.lastFetch.file} from ${n.lastFetch.address} at ${n.lastFetch.time}` : 'nothing heard';
  const problem = n.lastProblem ? `  ${''.padEnd(12)} last problem: ${n.lastProblem}\n` : '';
  const claims = n.claims.map((c) => `  ${''.padEnd(12)} ${claimLine(n.hostname, c)}\n`).join('');
  return `  ${n.hostname.padEnd(12)} ${n.role.padEnd(13)} ${n.phase.padEnd(8)} boots ${n.boots}  ${where.padEnd(28)} ${heard}\n${problem}${claims}`;
}

/** imgforge status: what a running `imgforge serve` knows of each node, and who asked unknown. */
export async function statusCommand(opts: GlobalOptions & StatusFlags, io: Io): Promise<number> {
  const s = await readStatus(opts.server);
  const named = opts.nodes ?? [];
  const unknown = named.filter((h) => !s.nodes.some((n) => n.hostname === h));
  if (unknown.length > 0) throw imgforgeError('UnknownNode', { node: unknown[0]!, known: s.nodes.map((n) => n.hostname).join(', ') });
  if (opts.json) {
    io.out(json(s));
    return 0;
  }
  const counts = new Map<string, number>();
  for (const n of s.nodes) counts.set(n.phase, (counts.get(n.phase) ?? 0) + 1);
  io.out(`${s.cluster} at ${s.url}, ${s.time}: ${[...counts].map(([phase, k]) => `${k} ${phase}`).join(', ') || 'no nodes'}\n`);
  io.out(`${progressLine(s.progress)}\n`);
  for (const n of s.nodes) {
    io.out(nodeLine(n));
    if (!named.includes(n.hostname)) continue;
    io.out(`  ${''.padEnd(12)} timeline: ${timelineLine(n.timeline) || 'nothing yet'}\n`);
    for (const l of n.lines) io.out(`  ${''.padEnd(12)}   ${l}\n`);
  }
  if (s.unknown.length > 0 || s.unknownDropped > 0) {
    io.out('unknown machines (add each to the config as a node\'s mac, serial or uuid):\n');
    for (const u of s.unknown) {
      const mac = u.neighbourMac ? ` (MAC ${u.neighbourMac})` : '', agent = u.userAgent ? ` (${u.userAgent})` : '';
      io.out(`  ${u.by} ${u.value} from ${u.address}${mac}, ${u.count}x, last ${u.lastSeen} for ${u.file}${agent}\n`);
    }
    if (s.unknownDropped > 0) io.out(`  and ${s.unknownDropped} more not listed (the list is full)\n`);
  }
  return 0;
}
