import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { closeSync, existsSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Cluster } from '../config/resolve.ts';
import { describeEvent, type Event } from '../protocol/events.ts';
import type { LabPlan } from '../plan/lab.ts';
import { createOverlay, startDetachedQemu } from '../tools/qemu.ts';
import { imgforgeError } from '../errors/error.ts';
import { buildAll, type BuildAllOptions } from './build-all.ts';
import { alive, consoleTail, labStatus, nodeEvents, powerCut, readState, writeState, type LabState, type LabStatus } from './lab-state.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Build the nodes' images into the lab folder (the base is cached, so a rebuild takes seconds). */
export async function buildLabImages(cluster: Cluster, dir: string, hosts: readonly string[], opts: Omit<BuildAllOptions, 'out'>): Promise<Record<string, string>> {
  if (hosts.length === 0) return {};
  const artifacts = await buildAll(cluster, hosts, { ...opts, out: join(dir, 'images') });
  return Object.fromEntries(artifacts.map((a) => [a.node, a.image]));
}

/** QEMU started, and still running a moment later (a refused argument ends it at once): else its log says why. */
async function started(pid: number, dir: string, log: string, what: string): Promise<number> {
  await sleep(700);
  if (alive(pid, dir)) return pid;
  const text = await readFile(join(dir, log), 'utf8').catch(() => '');
  throw imgforgeError('ToolFailed', { tool: 'qemu-system-x86_64', status: `${what} ended at once`, stderr: text.trim().split('\n').slice(-3).join('\n') });
}

/** Power a node on: a fresh overlay over its image on its first start, the same disk after that. */
async function startNode(dir: string, state: LabState, host: string, fresh: boolean): Promise<number> {
  const node = state.plan.nodes.find((n) => n.hostname === host)!;
  const image = state.images[host];
  if (!image) throw imgforgeError('LabNodeDown', { node: host, detail: 'has no image in this lab' });
  if (fresh || !existsSync(join(dir, `${host}.qcow2`))) {
    for (const f of ['qcow2', 'vars', 'events', 'console', 'qemu.log']) await rm(join(dir, `${host}.${f}`), { force: true });
    await createOverlay(image, join(dir, `${host}.qcow2`), node.diskBytes);
    if (node.varsTemplate) await copyFile(node.varsTemplate, join(dir, `${host}.vars`));
  }
  return started(startDetachedQemu(node.qemu, dir, `${host}.qemu.log`), dir, `${host}.qemu.log`, host);
}

/** n distinct UDP ports free on 127.0.0.1 right now (all bound at once, so no two are the same). */
export async function freeUdpPorts(n: number): Promise<number[]> {
  const sockets = await Promise.all(Array.from({ length: n }, () => new Promise<Socket>((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = sockets.map((s) => s.address().port);
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** The switch and the package source run as Node processes of their own, from this folder's modules (.ts in the sources, .js in the package). */
function startHelper(dir: string, name: 'lab-switch' | 'lab-server', args: readonly string[], log: string): number {
  const script = fileURLToPath(new URL(`./${name}${extname(fileURLToPath(import.meta.url))}`, import.meta.url));
  const fd = openSync(join(dir, log), 'a');
  try {
    const child = spawn(process.execPath, [script, ...args], { cwd: dir, detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    return child.pid!;
  } finally {
    closeSync(fd);
  }
}

/** Start the LAN (switch, router) and the nodes that boot; the state is written before each start, so `lab down` always finds them. */
export async function labUp(dir: string, config: string, plan: LabPlan, images: Record<string, string>): Promise<LabState> {
  const state: LabState = { config, plan, images, pids: { switch: null, router: null, source: null, nodes: {} } };
  await mkdir(dir, { recursive: true });
  state.pids.switch = await started(startHelper(dir, 'lab-switch', [JSON.stringify({ ports: plan.switch, ntpAt: plan.network.gateway })], 'switch.log'), dir, 'switch.log', 'the lab\'s switch');
  await writeState(dir, state);
  if (plan.source) {
    state.pids.source = await started(startHelper(dir, 'lab-server', [plan.source.dir, String(plan.source.port)], 'source.log'), dir, 'source.log', 'the lab\'s package source');
    await writeState(dir, state);
  }
  state.pids.router = await started(startDetachedQemu(plan.router, dir, 'router.log'), dir, 'router.log', 'the lab\'s router');
  await writeState(dir, state);
  for (const n of plan.nodes.filter((x) => x.boots)) {
    state.pids.nodes[n.hostname] = await startNode(dir, state, n.hostname, true);
    await writeState(dir, state);
  }
  return state;
}

export async function labStart(dir: string, state: LabState, host: string): Promise<void> {
  if (alive(state.pids.nodes[host] ?? null, dir)) return;
  state.pids.nodes[host] = await startNode(dir, state, host, false);
  await writeState(dir, state);
}

export async function labKill(dir: string, state: LabState, host: string): Promise<void> {
  await powerCut(state.pids.nodes[host] ?? null, dir);
  state.pids.nodes[host] = null;
  await writeState(dir, state);
}

/** Every QEMU of the lab ended, then the lab's files gone; the built images stay for the next `lab up`. */
export async function labDown(dir: string): Promise<string[]> {
  const state = await readState(dir);
  if (!state) throw imgforgeError('NoLab', { dir });
  const stopped: string[] = [];
  for (const [host, pid] of Object.entries(state.pids.nodes)) if (alive(pid, dir)) { await powerCut(pid, dir); stopped.push(host); }
  await powerCut(state.pids.router, dir);
  await powerCut(state.pids.switch, dir);
  await powerCut(state.pids.source ?? null, dir);
  for (const f of await readdir(dir)) if (f !== 'images') await rm(join(dir, f), { recursive: true, force: true });
  return stopped;
}

export interface WatchOptions {
  readonly deadlineMs: number;
  readonly onEvent?: ((t: number, host: string, e: Event) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Read the running nodes' events until every one has reported ok (formed), or one failed and the rest ended, or the deadline. */
export async function watchLab(dir: string, state: LabState, opts: WatchOptions): Promise<{ status: LabStatus; outcome: 'formed' | 'failed' | 'timeout' | 'stopped'; stuck: Record<string, string[]> }> {
  const t0 = performance.now();
  const seen = new Map<string, number>();
  for (;;) {
    const t = (performance.now() - t0) / 1000;
    for (const n of state.plan.nodes) {
      const { events } = await nodeEvents(dir, n.hostname);
      for (const e of events.slice(seen.get(n.hostname) ?? 0)) opts.onEvent?.(t, n.hostname, e);
      seen.set(n.hostname, events.length);
    }
    // Another `lab kill` or `lab start` may have changed the pids meanwhile: lab.json is the truth.
    const status = await labStatus(dir, (await readState(dir)) ?? state);
    const on = status.nodes.filter((n) => n.power === 'on');
    const ended = on.every((n) => n.reported !== null);
    let outcome: 'formed' | 'failed' | 'timeout' | 'stopped' | null = null;
    if (status.formed) outcome = 'formed';
    else if (on.length === 0) outcome = 'stopped';
    else if (ended) outcome = 'failed';
    else if (opts.signal?.aborted) outcome = 'stopped';
    else if (t * 1000 >= opts.deadlineMs) outcome = 'timeout';
    if (outcome) {
      const stuck: Record<string, string[]> = {};
      for (const n of on) if (n.reported !== 'ok') stuck[n.hostname] = await consoleTail(dir, n.hostname);
      return { status, outcome, stuck };
    }
    await sleep(1000);
  }
}

export const eventLine = (t: number, host: string, e: Event): string => `${t.toFixed(1).padStart(7)} s  ${host.padEnd(12)} ${describeEvent(e)}`;
