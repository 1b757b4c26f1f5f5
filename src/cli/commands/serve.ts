import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { findingsError } from '../../check/index.ts';
import { imgforgeError } from '../../errors/error.ts';
import { startServe, type RunningServer, type TlsFiles } from '../../execute/serve.ts';
import { neighbourMac, ServeState } from '../../execute/serve-state.ts';
import { describeServe, planServe, type ServeLimits, type ServePlan } from '../../plan/serve.ts';
import { enrolments, planServeSeeds } from '../../plan/serve-seeds.ts';
import { loadServeKey } from '../../secrets/enrolment.ts';
import { secretsFor } from '../../secrets/ensure.ts';
import { loadAndCheck, planInputs, type GlobalOptions } from '../context.ts';
import { json, type Io } from '../output.ts';

export interface ServeFlags {
  readonly listen: string;
  readonly url?: string;
  readonly stateDir?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly rate: string;
  readonly staleAfter: string;
  readonly dryRun: boolean;
  readonly reveal: boolean;
  readonly force: boolean;
  /** Approve each node's first claim as it is made (trust on first use). */
  readonly approveFirst?: boolean;
}

/** Largest event post: a first boot's whole spool is a few hundred lines of ~200 bytes. */
const BODY_BYTES = 256 * 1024;
const UNKNOWN_MAX = 1000;

const bad = (detail: string): Error => imgforgeError('BadFlag', { detail });
const whole = (flag: string, text: string): number => {
  if (!/^\d+$/.test(text)) throw bad(`${flag} takes a whole number, not "${text}"`);
  return Number(text);
};

/** "192.168.1.5:8080", "[fd00::5]:8080", ":8080" (every address) as host and port. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw bad(`--listen takes ADDRESS:PORT (192.168.1.5:8080, [fd00::5]:8080), not "${text}"`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

/** What nodes are told: --url, else the listening address when nodes can use it. */
export function serveUrl(listen: { host: string; port: number }, tls: boolean, url: string | undefined): string {
  if (url === undefined) {
    if (['0.0.0.0', '::'].includes(listen.host) || listen.port === 0) {
      throw bad(`--url is needed: nodes cannot be told to fetch from ${listen.host} port ${listen.port} (give the address and port they reach this host at)`);
    }
    return `${tls ? 'https' : 'http'}://${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`;
  }
  let u: URL | undefined;
  try { u = new URL(url); } catch { /* reported below */ }
  if (!u || !['http:', 'https:'].includes(u.protocol) || u.username || u.password || u.search || u.hash || u.pathname !== '/' || /[\s'"\\;]/.test(url)) {
    throw bad(`--url takes the server's http(s)://host:port, with no path, not "${url}"`);
  }
  if (tls && u.protocol === 'http:') throw bad('--url is http://, but with --tls-cert the server speaks https');
  return `${u.protocol}//${u.host}`;
}

async function readTls(opts: ServeFlags): Promise<TlsFiles | null> {
  if (!opts.tlsCert !== !opts.tlsKey) throw bad('--tls-cert and --tls-key go together');
  if (!opts.tlsCert || !opts.tlsKey) return null;
  const read = (path: string): Promise<Buffer> => readFile(path).catch((e: NodeJS.ErrnoException) => {
    throw imgforgeError('ServeTlsInvalid', { detail: `${path}: ${e.code ?? e.message}` });
  });
  const files = { cert: await read(opts.tlsCert), key: await read(opts.tlsKey) };
  try {
    createSecureContext(files);
  } catch (e) {
    throw imgforgeError('ServeTlsInvalid', { detail: `${opts.tlsCert} and ${opts.tlsKey}: ${(e as Error).message}` });
  }
  return files;
}

/** The state folder: --state-dir, else .imgforge/serve/ beside the config (`imgforge approve` finds it the same way). */
export const serveStateDir = (opts: GlobalOptions & { stateDir?: string }): string =>
  resolve(opts.stateDir ?? join(dirname(resolve(opts.config)), '.imgforge', 'serve'));

export interface PreparedServe {
  readonly plan: ServePlan;
  readonly tls: TlsFiles | null;
  /** Each node's enrolment secret (for --reveal; the plan holds only their hashes). */
  readonly enrolments: ReadonlyMap<string, string>;
}

/** Read (config, check, secrets, enrolment key, TLS files) and plan; nothing listens yet. */
export async function prepareServe(opts: GlobalOptions & ServeFlags, io: Io): Promise<PreparedServe> {
  const listen = parseListen(opts.listen);
  const rate = whole('--rate', opts.rate);
  const staleAfterSeconds = whole('--stale-after', opts.staleAfter);
  const tls = await readTls(opts);
  const url = serveUrl(listen, tls !== null, opts.url);
  const { cluster, report } = await loadAndCheck(opts);
  if (!report.ok && !opts.force) throw findingsError(report);
  // As render does: the same secrets, made on first use, so the seeds served are render's bytes.
  const secrets = await secretsFor(cluster, { create: true, say: opts.json ? undefined : io.err });
  const key = await loadServeKey(cluster);
  if (key.made && !opts.json) io.err(`made the enrolment key: ${key.path} (keep it private; removing it revokes every enrolled seed URL)\n`);
  const secretsByNode = enrolments(cluster, key.key);
  const seeds = await planServeSeeds(cluster, await planInputs({ secrets }), url, secretsByNode);
  const limits: ServeLimits = { bodyBytes: BODY_BYTES, perMinute: rate, burst: Math.max(1, Math.round(rate / 5)), unknownMax: UNKNOWN_MAX };
  const plan = planServe(cluster.config.cluster.name, seeds,
    { listen, url, tls: tls !== null, stateDir: serveStateDir(opts), limits, staleAfterSeconds, approveFirst: opts.approveFirst ?? false });
  return { plan, tls, enrolments: secretsByNode };
}

function printPlan(p: PreparedServe, reveal: boolean, io: Io): void {
  const o = p.plan.options;
  io.out(`serve ${p.plan.cluster}: nodes are told ${o.url}; listening on ${o.listen.host} port ${o.listen.port} (${o.tls ? 'https' : 'http'}); `
    + `state in ${o.stateDir}\n`);
  for (const r of p.plan.routes) io.out(`  ${r.method.padEnd(4)} ${r.path}${r.needs === 'nothing' ? '' : r.needs === 'enrolment secret' ? ' [enrolment secret]' : ' [claim token]'}\n`);
  for (const n of p.plan.nodes) {
    const ids = [n.mac && `mac ${n.mac}`, n.serial && `serial ${n.serial}`, n.uuid && `uuid ${n.uuid}`].filter(Boolean).join(', ') || 'hostname only';
    io.out(`${n.hostname.padEnd(12)} ${n.role.padEnd(13)} ${ids}\n`);
    io.out(`${''.padEnd(12)} seed ${o.url}/nodes/${n.hostname}/: ${n.open.map((f) => `${f.name}${f.secret ? ' [secret]' : ''}`).join(', ')}\n`);
    io.out(`${''.padEnd(12)} enrolled seed ${reveal ? `${o.url}/nodes/${n.hostname}/${p.enrolments.get(n.hostname)}/` : '(--reveal prints its URL)'}\n`);
  }
  for (const w of p.plan.warnings) io.out(`warning: ${w}\n`);
}

/** imgforge serve: read, plan, then serve until SIGINT or SIGTERM (or print the plan with --dry-run). */
export async function serveCommand(opts: GlobalOptions & ServeFlags, io: Io): Promise<number> {
  if (opts.reveal && !opts.dryRun) throw bad('--reveal prints enrolment secrets with the plan: it goes with --dry-run');
  const prepared = await prepareServe(opts, io);
  const { plan } = prepared;
  if (opts.dryRun) {
    if (opts.json) io.out(json(describeServe(plan, opts.reveal ? prepared.enrolments : undefined)));
    else printPlan(prepared, opts.reveal, io);
    return 0;
  }
  const state = await ServeState.open(plan.options.stateDir, plan.nodes.map((n) => n.hostname), plan.options.limits.unknownMax)
    .catch((e: NodeJS.ErrnoException) => { throw imgforgeError('ServeStateUnwritable', { path: plan.options.stateDir, detail: e.code ?? e.message }); });
  // The access log: one JSON object per line on stderr, enrolment secrets never in it.
  const running: RunningServer = await startServe({
    plan, state, log: (r) => io.err(`${JSON.stringify(r)}\n`), now: Date.now, neighbour: (a) => neighbourMac(a), enrolments: prepared.enrolments,
  }, prepared.tls);
  if (opts.json) io.out(`${JSON.stringify({ event: 'listening', address: running.address, port: running.port, url: plan.options.url, nodes: plan.nodes.length })}\n`);
  else {
    io.out(`serving ${plan.nodes.length} nodes of ${plan.cluster} at ${plan.options.url}/nodes/<hostname>/ (listening on ${running.address} port ${running.port}); `
      + `status: ${plan.options.url}/status.json\n`);
    for (const w of plan.warnings) io.err(`warning: ${w}\n`);
  }
  const signal = await new Promise<string>((done) => {
    const on = (name: string) => (): void => {
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
      done(name);
    };
    const onInt = on('SIGINT'), onTerm = on('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
  await running.close();
  if (opts.json) io.out(`${JSON.stringify({ event: 'stopped', signal })}\n`);
  else io.out(`stopped (${signal}); state kept in ${plan.options.stateDir}\n`);
  return 0;
}
