import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { findingsError } from '../../check/index.ts';
import { loadCluster } from '../../config/index.ts';
import { defaultCacheDir } from '../../base/cache.ts';
import { imgforgeError, isImgforgeError } from '../../errors/error.ts';
import { eventLine, buildLabImages, freeUdpPorts, labDown, labKill, labStart, labUp, watchLab } from '../../execute/lab.ts';
import { alive, labStatus, readState, type LabState, type LabStatus } from '../../execute/lab-state.ts';
import { labBoard, labConfigValue, labNotes, labRewrite, type LabMode, type Substitution } from '../../plan/lab-config.ts';
import { loadPackageSources } from '../../plan/packages.ts';
import { labNetwork } from '../../plan/lab-network.ts';
import { labSourceUrl, planLab, ROUTER } from '../../plan/lab.ts';
import { kvmUsable, QEMU_SYSTEM, requireFirmware } from '../../tools/qemu.ts';
import { requireCommand } from '../../tools/run.ts';
import { freePort, sshInteractive } from '../../tools/ssh.ts';
import { json, type Io } from '../output.ts';
import { loadAndCheck, planInputs, sourceDateEpoch, VERSION, type GlobalOptions } from '../context.ts';

export interface LabFlags {
  readonly dir?: string;
  readonly offline?: boolean;
  readonly timeout?: string;
  readonly memory?: string;
  readonly cpus?: string;
  readonly cacheDir?: string;
  readonly key?: string;
  readonly source?: string;
  /** false (--no-follow): return once the VMs are started. */
  readonly follow?: boolean;
}

/** One lab per config folder unless --dir names another: labs of different configs never share sockets or state. */
const labDir = (opts: GlobalOptions & LabFlags): string => resolve(opts.dir ?? join(dirname(resolve(opts.config)), '.imgforge', 'lab'));

const whole = (flag: string, text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw imgforgeError('BadFlag', { detail: `${flag} takes a whole number, not "${text}"` });
  return n;
};

async function running(dir: string): Promise<LabState> {
  const state = await readState(dir);
  if (!state || !alive(state.pids.router, dir)) throw imgforgeError('NoLab', { dir });
  return state;
}

function node(state: LabState, host: string): void {
  if (!state.plan.nodes.some((n) => n.hostname === host)) throw imgforgeError('UnknownNode', { node: host, known: state.plan.nodes.map((n) => n.hostname).join(', ') });
}

function printStatus(s: LabStatus, io: Io): void {
  io.out(`lab ${s.cluster} (${s.mode}) in ${s.dir}: LAN ${s.lan}, ${s.formed ? 'formed' : 'not formed'}\n`);
  for (const n of s.nodes) {
    const where = n.reported ? `reported ${n.reported}` : n.stage ? `${n.stage} ${n.state}` : n.power === 'on' ? 'booting' : '-';
    io.out(`  ${n.hostname.padEnd(12)} ${n.power.padEnd(3)} ${n.role.padEnd(13)} ${(n.runsAs ? `${n.board} as ${n.runsAs}` : n.board).padEnd(26)} ${n.address.padEnd(18)} boots ${n.boots}  ${where}${n.lastProblem ? `  (last problem: ${n.lastProblem})` : ''}\n`);
  }
}

/** imgforge lab up [nodes...]: build, boot on one LAN, and follow the nodes until the cluster forms. */
export async function labUpCommand(targets: string[], opts: GlobalOptions & LabFlags, io: Io): Promise<number> {
  const dir = labDir(opts);
  const before = await readState(dir);
  if (before && (alive(before.pids.router, dir) || alive(before.pids.switch, dir))) {
    throw imgforgeError('LabRunning', { dir, nodes: Object.entries(before.pids.nodes).filter(([, p]) => alive(p, dir)).map(([h]) => h).join(', ') || 'none' });
  }
  if (before) await labDown(dir);
  const deadlineMs = whole('--timeout', opts.timeout ?? '3600') * 1000;
  const { cluster, report } = await loadAndCheck(opts);
  if (!report.ok) throw findingsError(report);
  requireCommand(QEMU_SYSTEM.amd64);
  const firmware = requireFirmware('amd64');
  const mode: LabMode = opts.offline ? 'offline' : 'online';
  const network = labNetwork(cluster.config);
  const subs: Substitution[] = cluster.nodes.flatMap((n) => {
    const s = labBoard(n.config.board, cluster.profiles, mode);
    return s ? [{ hostname: n.config.hostname, board: n.config.board, ...s }] : [];
  });
  const source = opts.source === undefined ? undefined : resolve(opts.source);
  if (source !== undefined && !existsSync(join(source, 'packages.yaml'))) {
    throw imgforgeError('BadFlag', { detail: `--source ${source}: no packages.yaml there (the fingerprints and digests of what the source serves, as in imgforge's data/packages.yaml)` });
  }
  // The source's pins are the user's input: a malformed file is a bad --source, named with its fields.
  const packages = source === undefined ? undefined : await loadPackageSources(join(source, 'packages.yaml')).catch((e: unknown) => {
    throw isImgforgeError(e) && e.code === 'ReadFailed' ? imgforgeError('BadFlag', { detail: `--source ${source}: ${e.message}` }) : e;
  });
  const sourcePort = source === undefined ? undefined : await freePort();
  const url = sourcePort === undefined ? undefined : labSourceUrl(network, sourcePort);
  const offline = mode === 'offline';
  const rewrite = labRewrite(cluster, subs, network, { offline, sourceUrl: url, dockerMirror: source !== undefined && existsSync(join(source, 'containerd')) });
  const lab = await loadCluster(opts.config, (value) => labConfigValue(value, rewrite));
  const sshPorts: Record<string, number> = {};
  for (const n of lab.nodes) if (n.config.address !== 'dhcp') sshPorts[n.config.hostname] = await freePort();
  const udp = await freeUdpPorts(2 * (lab.nodes.length + 1));
  const lanPorts = Object.fromEntries([ROUTER, ...lab.nodes.map((n) => n.config.hostname)].map((name, i) => [name, { qemu: udp[2 * i]!, switch: udp[2 * i + 1]! }]));
  const plan = planLab(lab, subs, network, {
    mode, targets, lanPorts, source: source !== undefined && sourcePort !== undefined ? { dir: source, port: sourcePort } : undefined, memoryMiB: whole('--memory', opts.memory ?? '1280'), cpus: whole('--cpus', opts.cpus ?? '1'), kvm: kvmUsable('amd64'), firmware, sshPorts,
  });
  const say = (t: string): void => { if (!opts.json) io.err(t); };
  say(`lab ${plan.cluster} (${mode}) in ${dir}: LAN ${network.subnet}, gateway ${network.gateway} (QEMU's router; the host's 127.0.0.1 is reached there)\n`);
  const notes = labNotes({ network, subs, assemble: plan.assemble, rewrite, offline, source: source && url ? { dir: source, url } : undefined });
  for (const n of notes) say(`  ${n}\n`);
  const booting = plan.nodes.filter((n) => n.boots).map((n) => n.hostname);
  const images = await buildLabImages(lab, dir, booting, {
    cacheDir: opts.cacheDir ?? defaultCacheDir(), allowUnverified: false, epoch: sourceDateEpoch(), version: VERSION, diskBytes: null,
    inputs: await planInputs(packages ? { packages } : {}), say: opts.json ? undefined : io.err, progressBar: false,
  });
  const state = await labUp(dir, resolve(opts.config), plan, images);
  if (opts.follow === false) {
    const status = await labStatus(dir, state);
    if (opts.json) io.out(json({ ...status, notes }));
    else io.out(`booted ${booting.join(', ')}: imgforge lab status, lab ssh <node>, lab down\n`);
    return 0;
  }
  say(`booted ${booting.join(', ')}; following their events (lab status, lab ssh <node>, lab down)\n`);
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  let result;
  try {
    result = await watchLab(dir, state, { deadlineMs, signal: abort.signal, onEvent: (t, host, e) => { if (e.stage !== 'report' || e.state !== 'note') say(`${eventLine(t, host, e)}\n`); } });
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
  if (opts.json) io.out(json({ outcome: result.outcome, ...result.status, notes, stuck: result.stuck }));
  else {
    printStatus(result.status, io);
    for (const [host, lines] of Object.entries(result.stuck)) {
      const n = result.status.nodes.find((x) => x.hostname === host)!;
      io.out(`${host}: ${n.reported === 'fail' ? 'reported a failure' : `no report; in stage ${n.stage ?? '(none yet)'}`}; its console ends:\n${lines.map((l) => `  | ${l}\n`).join('')}`);
    }
    io.out(result.outcome === 'formed' ? 'formed: the VMs stay up until `imgforge lab down`\n' : `${result.outcome}: the VMs stay up for a look (lab ssh); \`imgforge lab down\` stops them\n`);
  }
  return result.outcome === 'formed' ? 0 : 1;
}

export async function labStatusCommand(opts: GlobalOptions & LabFlags, io: Io): Promise<number> {
  const dir = labDir(opts);
  const state = await readState(dir);
  if (!state) throw imgforgeError('NoLab', { dir });
  const s = await labStatus(dir, state);
  if (opts.json) io.out(json(s));
  else printStatus(s, io);
  return 0;
}

export async function labPowerCommand(action: 'kill' | 'start', host: string, opts: GlobalOptions & LabFlags, io: Io): Promise<number> {
  const dir = labDir(opts);
  const state = await running(dir);
  node(state, host);
  if (action === 'kill') await labKill(dir, state, host);
  else await labStart(dir, state, host);
  if (opts.json) io.out(json({ node: host, power: action === 'kill' ? 'off' : 'on' }));
  else io.out(`${host}: power ${action === 'kill' ? 'cut' : 'on'}\n`);
  return 0;
}

export async function labSshCommand(host: string, command: string[], opts: GlobalOptions & LabFlags): Promise<number> {
  const dir = labDir(opts);
  const state = await running(dir);
  node(state, host);
  const n = state.plan.nodes.find((x) => x.hostname === host)!;
  if (!alive(state.pids.nodes[host] ?? null, dir)) throw imgforgeError('LabNodeDown', { node: host, detail: 'is powered off' });
  if (n.sshPort === null || !state.plan.sshUser) throw imgforgeError('Unsupported', { what: `SSH to ${host} from the host (${n.sshPort === null ? 'a DHCP node\'s address is not known in advance' : 'the config has no user'})` });
  return sshInteractive({ host: '127.0.0.1', port: n.sshPort, user: state.plan.sshUser, key: opts.key }, command);
}

export async function labDownCommand(opts: GlobalOptions & LabFlags, io: Io): Promise<number> {
  const dir = labDir(opts);
  const stopped = await labDown(dir);
  if (opts.json) io.out(json({ dir, stopped }));
  else io.out(`lab in ${dir} is down${stopped.length ? ` (powered off ${stopped.join(', ')})` : ''}\n`);
  return 0;
}
