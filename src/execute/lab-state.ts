import { readlinkSync, realpathSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEvents, type Event } from '../protocol/events.ts';
import { nodeProgress, type NodeProgress } from '../protocol/progress.ts';
import type { LabPlan } from '../plan/lab.ts';
import { imgforgeError } from '../errors/error.ts';

/** What a lab folder records: the plan it was started from and the QEMU processes it runs. */
export interface LabState {
  /** The config file, absolute. */
  readonly config: string;
  readonly plan: LabPlan;
  /** Node hostname -> image file the node's overlay sits on. */
  readonly images: Readonly<Record<string, string>>;
  /** The switch and the package source (Node processes), the router (QEMU with slirp) and each node's QEMU. */
  readonly pids: { switch: number | null; router: number | null; source?: number | null; nodes: Record<string, number | null> };
}

const STATE = 'lab.json';

export async function readState(dir: string): Promise<LabState | undefined> {
  const text = await readFile(join(dir, STATE), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as LabState;
  } catch (e) {
    throw imgforgeError('ReadFailed', { path: join(dir, STATE), detail: (e as Error).message });
  }
}

/** Written whole, then renamed over the old one: a reader never sees half a state. */
export async function writeState(dir: string, state: LabState): Promise<void> {
  await writeFile(join(dir, `${STATE}.tmp`), `${JSON.stringify(state, null, 2)}\n`);
  await rename(join(dir, `${STATE}.tmp`), join(dir, STATE));
}

/**
 * The pid is a process working in the lab folder: not a stranger that reused the number. The
 * kernel names a working folder by its real path, so a lab folder reached through a symbolic link
 * is compared as its real path.
 */
export function alive(pid: number | null, dir: string): boolean {
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
    return readlinkSync(`/proc/${pid}/cwd`) === realpathSync(dir);
  } catch {
    return false;
  }
}

/** Cut the power: SIGKILL, as pulling the plug, then wait until the process is gone. */
export async function powerCut(pid: number | null, dir: string): Promise<void> {
  if (!alive(pid, dir)) return;
  process.kill(pid!, 'SIGKILL');
  for (let i = 0; i < 100 && alive(pid, dir); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid, dir)) throw imgforgeError('ReadFailed', { path: `/proc/${pid}`, detail: 'the process did not end after SIGKILL' });
}

export async function nodeEvents(dir: string, host: string): Promise<{ events: readonly Event[]; rejected: number }> {
  const text = await readFile(join(dir, `${host}.events`), 'utf8').catch(() => '');
  const parsed = parseEvents(text);
  return { events: parsed.events, rejected: parsed.rejected.length };
}

/** The console's last lines, without terminal escapes. */
export async function consoleTail(dir: string, host: string, lines = 12): Promise<string[]> {
  const text = await readFile(join(dir, `${host}.console`), 'utf8').catch(() => '');
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/[\r\x00]/g, '').split('\n').filter((l) => l.trim()).slice(-lines);
}

export interface LabNodeStatus extends NodeProgress {
  readonly hostname: string;
  readonly role: string;
  readonly board: string;
  readonly runsAs: string | null;
  readonly power: 'on' | 'off';
  readonly address: string;
  readonly ssh: string | null;
}

export interface LabStatus {
  readonly dir: string;
  readonly cluster: string;
  readonly mode: LabPlan['mode'];
  /** The LAN: switch and router both running. */
  readonly lan: 'up' | 'down';
  /** Every running node has reported ok on its latest boot (with self-assembly: the cluster has formed). */
  readonly formed: boolean;
  readonly nodes: readonly LabNodeStatus[];
}

export async function labStatus(dir: string, state: LabState): Promise<LabStatus> {
  const nodes = await Promise.all(state.plan.nodes.map(async (n): Promise<LabNodeStatus> => ({
    hostname: n.hostname, role: n.role, board: n.board, runsAs: n.substituted?.runsAs ?? null,
    power: alive(state.pids.nodes[n.hostname] ?? null, dir) ? 'on' : 'off', address: n.address,
    ssh: n.sshPort === null ? null : `127.0.0.1:${n.sshPort}`,
    ...nodeProgress((await nodeEvents(dir, n.hostname)).events),
  })));
  const on = nodes.filter((n) => n.power === 'on');
  return {
    dir, cluster: state.plan.cluster, mode: state.plan.mode, lan: alive(state.pids.switch, dir) && alive(state.pids.router, dir) ? 'up' : 'down',
    formed: on.length > 0 && on.every((n) => n.reported === 'ok'), nodes,
  };
}
