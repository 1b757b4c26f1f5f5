// Time from `imgforge lab up` to "cluster formed" for the bundled example's shape (two control
// planes on the VIP, the worker with the third etcd member, two more workers), offline with the
// tests' stand-in source, run after run; the memory of each VM; and where the time goes, from the
// nodes' own events. Results go to docs/bench-lab.md.
//   node scripts/bench-lab.ts [--runs 3] [--cache-dir .cache/imgforge] [--memory 1280] [--report FILE]
// Each run is a whole `lab up` to its exit (formed, every node reported ok) then `lab down`; the
// nodes' images are built in the first run and reused by the next ones, as a user's second
// `lab up` reuses them, so the build is measured once and apart.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseEvents, type Event } from '../src/protocol/events.ts';
import { buildLabSource } from '../test/lab/source.ts';
import { ROOT, tempDir } from '../test/helpers.ts';
import { median } from './bench/median.ts';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'cache-dir': { type: 'string', default: join(ROOT, '.cache/imgforge') },
    memory: { type: 'string', default: '1280' },
    report: { type: 'string', default: '' },
  },
});
const runs = Number(flags.runs);
const cacheDir = flags['cache-dir'];
const memory = flags.memory;
const report = flags.report;
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs takes a whole number, not "${flags.runs}"`);
const NODES = ['cp01', 'cp02', 'worker01', 'worker02', 'worker03'];

const work = tempDir('imgforge-bench-lab-');
const config = join(work, 'images.config.mjs');
// The root example as users have it, without the fourth worker: the shape the lab issue names (five VMs).
writeFileSync(config, `import root from ${JSON.stringify(join(ROOT, 'images.config.ts'))};\nexport default { ...root, nodes: root.nodes.filter((n) => n.hostname !== 'worker04') };\n`);
const lab = join(work, '.imgforge', 'lab');
const source = buildLabSource('1.35.3');
const log = (t: string): void => { process.stderr.write(`[bench-lab] ${t}\n`); };

function imgforge(args: string[], onLine?: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(ROOT, 'bin/imgforge.js'), '--config', config, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    const take = (chunk: Buffer): void => {
      rest += chunk.toString('utf8');
      const lines = rest.split('\n');
      rest = lines.pop()!;
      for (const l of lines) onLine?.(l);
    };
    p.stdout.on('data', take);
    p.stderr.on('data', take);
    p.on('close', (code) => resolve(code ?? -1));
  });
}

/** Resident and peak memory (MiB) of a process, from /proc; null once it has gone. */
function memoryOf(pid: number): { rss: number; hwm: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0);
    return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

interface Run { total: number; booted: number; formed: boolean; nodeDone: Record<string, number>; peakMiB: Record<string, number>; stages: Record<string, number[]>; phases: Record<string, number[]>; load: [number, number] }

/** Milestones of a node's last boot, on its own clock (seconds since its kernel started). */
const PHASES: [string, (e: Event) => boolean][] = [
  ['bundle installed', (e) => e.stage === 'bundle' && e.state === 'ok'],
  ['packages installed', (e) => e.stage === 'packages' && e.state === 'ok'],
  ['init or join done', (e) => /^kubeadm-(init|join)$/.test(e.stage) && e.state === 'ok'],
  ['first boot complete', (e) => e.stage === 'complete' && e.state === 'ok'],
];
function phasesOf(events: readonly Event[]): Record<string, number> {
  const last = events.at(-1)?.boot;
  const mine = events.filter((e) => e.boot === last);
  return Object.fromEntries(PHASES.flatMap(([name, is]) => { const e = mine.find(is); return e ? [[name, e.up]] : []; }));
}

/** Each stage's duration on each node's last boot: its first begin to its last ok, on the node's uptime clock. */
function stageDurations(events: readonly Event[]): Record<string, number> {
  const last = events.at(-1)?.boot;
  const mine = events.filter((e) => e.boot === last);
  const out: Record<string, number> = {};
  for (const stage of new Set(mine.map((e) => e.stage))) {
    const begin = mine.find((e) => e.stage === stage && e.state === 'begin');
    const ok = mine.findLast((e) => e.stage === stage && e.state === 'ok');
    if (begin && ok) out[stage] = ok.up - begin.up;
  }
  return out;
}

async function one(i: number): Promise<Run> {
  const load0 = loadavg()[0]!;
  const t0 = Date.now();
  let booted = 0;
  const peakMiB: Record<string, number> = {};
  const sample = setInterval(() => {
    try {
      const state = JSON.parse(readFileSync(join(lab, 'lab.json'), 'utf8')) as { pids: { nodes: Record<string, number | null> } };
      for (const [host, pid] of Object.entries(state.pids.nodes)) {
        const m = pid ? memoryOf(pid) : null;
        if (m) peakMiB[host] = Math.max(peakMiB[host] ?? 0, m.hwm);
      }
    } catch { /* not written yet */ }
  }, 2000);
  const code = await imgforge(['lab', 'up', ...NODES, '--offline', '--source', source.dir, '--memory', memory, '--timeout', '3600', '--cache-dir', cacheDir], (line) => {
    if (!booted && line.startsWith('booted ')) { booted = (Date.now() - t0) / 1000; log(`run ${i}: booted after ${booted.toFixed(0)} s`); }
  });
  clearInterval(sample);
  const total = (Date.now() - t0) / 1000;
  const nodeDone: Record<string, number> = {};
  const stages: Record<string, number[]> = {};
  const phases: Record<string, number[]> = {};
  for (const host of NODES) {
    const events = parseEvents(readFileSync(join(lab, `${host}.events`), 'utf8')).events;
    const done = events.findLast((e) => e.stage === 'complete' && e.state === 'ok') ?? events.at(-1);
    if (done) nodeDone[host] = (Date.parse(done.time) - t0) / 1000;
    for (const [s, d] of Object.entries(stageDurations(events))) (stages[s] ??= []).push(d);
    for (const [p, up] of Object.entries(phasesOf(events))) (phases[p] ??= []).push(up);
  }
  const run: Run = { total, booted, formed: code === 0, nodeDone, peakMiB, stages, phases, load: [load0, loadavg()[0]!] };
  log(`run ${i}: ${run.formed ? 'formed' : `NOT formed (exit ${code})`} ${total.toFixed(0)} s after lab up; peak MiB ${JSON.stringify(peakMiB)}`);
  await imgforge(['lab', 'down']);
  return run;
}

const results: Run[] = [];
for (let i = 1; i <= runs; i++) results.push(await one(i));

const f0 = (n: number): string => n.toFixed(0);
const lines: string[] = [];
lines.push(`Runs: ${runs}, five VMs of ${memory} MiB and one vCPU each, \`--offline\` with the tests' stand-in source; host load average (1 min) at each run's start and end: ${results.map((r) => `${r.load[0].toFixed(1)}→${r.load[1].toFixed(1)}`).join(', ')}.`, '');
lines.push('| run | formed | `lab up` → VMs booted s | `lab up` → formed s | boot → formed s | last node done s |', '|---|---|---|---|---|---|');
results.forEach((r, i) => lines.push(`| ${i + 1} | ${r.formed ? 'yes' : 'no'} | ${f0(r.booted)} | ${f0(r.total)} | ${f0(r.total - r.booted)} | ${f0(Math.max(...Object.values(r.nodeDone)))} |`));
const later = results.slice(1);
lines.push('', `Median \`lab up\` → formed: ${f0(median(results.map((r) => r.total)))} s over all ${runs} runs; ${later.length ? `${f0(median(later.map((r) => r.total)))} s with the images already built (runs 2-${runs}); ` : ''}boot → formed ${f0(median(results.map((r) => r.total - r.booted)))} s.`, '');
lines.push('| node | peak RSS of its QEMU, MiB (per run) |', '|---|---|');
for (const h of NODES) lines.push(`| ${h} | ${results.map((r) => f0(r.peakMiB[h] ?? 0)).join(', ')} |`);
lines.push('', '| milestone, on the node\'s clock (s after its kernel started) | median of the five nodes, per run | latest node, per run |', '|---|---|---|');
for (const [p] of PHASES) lines.push(`| ${p} | ${results.map((r) => f0(median(r.phases[p] ?? [0]))).join(', ')} | ${results.map((r) => f0(Math.max(...(r.phases[p] ?? [0])))).join(', ')} |`);
const stageNames = [...new Set(results.flatMap((r) => Object.keys(r.stages)))];
lines.push('', '| stage | median s (all nodes, all runs) | max s | nodes × runs |', '|---|---|---|---|');
const all = stageNames.map((s) => ({ s, d: results.flatMap((r) => r.stages[s] ?? []) })).sort((a, b) => median(b.d) - median(a.d));
for (const { s, d } of all) lines.push(`| ${s} | ${f0(median(d))} | ${f0(Math.max(...d))} | ${d.length} |`);
const text = `${lines.join('\n')}\n`;
process.stdout.write(text);
if (report) writeFileSync(report, text);
process.stdout.write(`${JSON.stringify(results)}\n`);
for (const d of [work, source.dir]) rmSync(d, { recursive: true, force: true });
