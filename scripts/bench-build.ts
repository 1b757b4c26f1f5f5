// Benchmark: `imgforge build` of the root example's x86-family nodes from a cached raw base of a
// few GiB, against doing the same by hand in the same run (per node: `cp --sparse=always` of the
// base, `openssl dgst -sha256` of the copy, `bmaptool create`). Results: docs/bench-build.md.
//
//   node scripts/bench-build.ts [--size-gib 3.5] [--data-mib 600] [--runs 3] [--nodes worker01,worker03,worker04]
//                               [--report FILE] [--keep]
//
// The base is synthetic with the real Ubuntu noble cloud image's shape and realistic data (bench/noble-base.ts).
// Page caches cannot be dropped without privileges, so every variant runs warm: one discarded
// run, then --runs measured runs, imgforge and by-hand alternating which goes first.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sha256File } from '../src/base/checksum.ts';
import { bundleTime } from './bench/bundle-time.ts';
import { runByHand, timed, type HandRun } from './bench/run.ts';
import { nobleBase } from './bench/noble-base.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MIB = 2 ** 20;
const GIB = 2 ** 30;

const { values: flags } = parseArgs({
  options: {
    'size-gib': { type: 'string', default: '3.5' },
    'data-mib': { type: 'string', default: '600' },
    runs: { type: 'string', default: '3' },
    nodes: { type: 'string', default: 'worker01,worker03,worker04' },
    report: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const sizeBytes = Math.round((Number(flags['size-gib']) * GIB) / MIB) * MIB;
const dataBytes = Math.round(Number(flags['data-mib']) * MIB);
const runs = Number(flags.runs);
const nodes = flags.nodes.split(',').filter(Boolean);
if (!(sizeBytes >= 1.5 * GIB) || !(dataBytes >= 0) || !(runs >= 1)) {
  process.stderr.write('usage: node scripts/bench-build.ts [--size-gib N>=1.5] [--data-mib N] [--runs N>=1] [--nodes a,b] [--report FILE] [--keep]\n');
  process.exit(2);
}

const log = (text: string): void => { process.stderr.write(`[bench] ${text}\n`); };
const sh = (cmd: string, args: string[], env: Record<string, string> = {}): string =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', ...env } });
const allocated = (path: string): number => statSync(path).blocks * 512;
const fmtMiB = (bytes: number): string => `${(bytes / MIB).toFixed(0)} MiB`;
const fmtS = (ms: number): string => (ms / 1000).toFixed(2);
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// ---------------------------------------------------------------------------------------------
// Running and timing

const PHASES = ['start-up', 'base', 'assemble', 'verify, digest and audit'] as const;
type Phase = (typeof PHASES)[number];

interface ImgforgeRun {
  readonly ms: number;
  /** Seconds from spawn to the first step line, then between step lines, then to exit. */
  readonly phases: Record<Phase, number>;
  /** Peak RSS of the imgforge process in each phase, KiB. */
  readonly rssKiB: Record<Phase, number>;
  readonly image: { readonly size: number; readonly allocated: number; readonly mapped: number; readonly sha256: string };
}

const work = mkdtempSync(join(tmpdir(), 'imgforge-bench-'));
// The cluster's secrets go to the benchmark's own folder, not beside the config in the checkout.
process.env['IMGFORGE_SECRETS_DIR'] ??= join(work, 'secrets');
const cacheDir = join(work, 'cache');
// Loaded into imgforge's process with --import: at each step line on stderr it notes the peak RSS
// since the previous one (VmHWM) and resets it (clear_refs 5), so that each phase gets its own peak.
const preload = join(work, 'rss-preload.mjs');
writeFileSync(preload, `import { readFileSync, writeFileSync } from 'node:fs';
const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
const peaks = {};
let phase = 'start-up';
const close = () => { peaks[phase] = Math.max(peaks[phase] ?? 0, hwm()); try { writeFileSync('/proc/self/clear_refs', '5'); } catch {} };
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk, ...rest) => {
  const m = /^\\S+: (base|assemble|verify, digest and audit)$/m.exec(String(chunk));
  if (m) { close(); phase = m[1]; }
  return write(chunk, ...rest);
};
process.on('exit', () => { close(); writeFileSync(process.env.BENCH_RSS_FILE, JSON.stringify(peaks)); });
`);

const imgforgeArgs = (node: string, base: string, out: string): string[] =>
  ['bin/imgforge.js', '--config', 'images.config.ts', 'build', node, '--base', base, '--out', out, '--cache-dir', cacheDir];

async function runImgforge(node: string, base: string): Promise<ImgforgeRun> {
  const out = join(work, `out-${node}`);
  rmSync(out, { recursive: true, force: true });
  const rssFile = join(work, 'rss.json');
  const r = await timed(process.execPath, ['--import', preload, ...imgforgeArgs(node, base, out)], { BENCH_RSS_FILE: rssFile });
  if (r.code !== 0) throw new Error(`imgforge build ${node} exited ${r.code}:\n${r.stderr}`);
  const at = (step: string): number => {
    const line = r.lines.find((l) => l.text === `${node}: ${step}`);
    if (!line) throw new Error(`imgforge build ${node}: no "${step}" step on stderr:\n${r.stderr}`);
    return line.at;
  };
  const rss = JSON.parse(readFileSync(rssFile, 'utf8')) as Record<Phase, number>;
  const img = join(out, `${node}.img`);
  const m = JSON.parse(readFileSync(join(out, `${node}.manifest.json`), 'utf8')) as { image: { mappedBytes: number; sha256: string } };
  const result: ImgforgeRun = {
    ms: r.ms,
    phases: { 'start-up': at('base'), base: at('assemble') - at('base'), assemble: at('verify, digest and audit') - at('assemble'), 'verify, digest and audit': r.ms - at('verify, digest and audit') },
    rssKiB: rss,
    image: { size: statSync(img).size, allocated: allocated(img), mapped: m.image.mappedBytes, sha256: m.image.sha256 },
  };
  rmSync(out, { recursive: true, force: true });
  return result;
}

/** One build under GNU time without the preload: the peak RSS of the largest process in the tree (imgforge or a tool it runs). */
async function treePeakKiB(node: string, base: string): Promise<number | null> {
  if (!existsSync('/usr/bin/time')) return null;
  const out = join(work, `out-${node}`), file = join(work, 'time.txt');
  rmSync(out, { recursive: true, force: true });
  const r = await timed('/usr/bin/time', ['-f', '%M', '-o', file, process.execPath, ...imgforgeArgs(node, base, out)]);
  rmSync(out, { recursive: true, force: true });
  if (r.code !== 0) throw new Error(`imgforge build ${node} exited ${r.code}:\n${r.stderr}`);
  return Number(readFileSync(file, 'utf8').trim().split('\n').at(-1));
}

const loadavg = (): number => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

// ---------------------------------------------------------------------------------------------
// The benchmark

for (const tool of ['mke2fs', 'mkfs.fat', 'mmd', 'mcopy', 'cp', 'openssl', 'bmaptool', 'filefrag', 'sgdisk', 'e2fsck', 'fsck.fat', 'debugfs']) {
  try { sh('sh', ['-c', `command -v ${tool}`]); } catch { throw new Error(`${tool} is not installed`); }
}

try {
  log(`building a ${fmtMiB(sizeBytes)} noble-shaped base with ${fmtMiB(dataBytes)} of random data in ${work}`);
  const t0 = performance.now();
  const { image: base, files } = nobleBase(work, sizeBytes, dataBytes);
  const baseBuildMs = performance.now() - t0;
  const baseSt = statSync(base);
  log(`base: ${fmtMiB(baseSt.size)} virtual, ${fmtMiB(allocated(base))} allocated, ${files} data files (${fmtS(baseBuildMs)} s)`);

  log('cold build: fills the cache (cache/raw/<sha256>.img)');
  const cold = await runImgforge(nodes[0]!, base);
  const raws = readdirSync(join(cacheDir, 'raw')).filter((f) => f.endsWith('.img'));
  if (raws.length !== 1) throw new Error(`expected one cached raw base, found ${raws.length}`);
  const raw = join(cacheDir, 'raw', raws[0]!);
  log(`cold build ${fmtS(cold.ms)} s (base step ${fmtS(cold.phases.base)} s); cached raw ${fmtMiB(allocated(raw))} allocated`);

  // Per node: one warm-up of each (discarded; imgforge's under GNU time for the process tree's
  // peak), then `runs` of each, alternating which goes first.
  const results = new Map<string, { imgforge: ImgforgeRun[]; hand: HandRun[]; treeKiB: number | null }>();
  const loads: number[] = [loadavg()];
  for (const node of nodes) {
    log(`${node}: warm-up`);
    const treeKiB = await treePeakKiB(node, base);
    await runByHand(base, work);
    const r = { imgforge: [] as ImgforgeRun[], hand: [] as HandRun[], treeKiB };
    for (let i = 0; i < runs; i++) {
      for (const which of i % 2 === 0 ? ['imgforge', 'hand'] : ['hand', 'imgforge']) {
        if (which === 'imgforge') r.imgforge.push(await runImgforge(node, base));
        else r.hand.push(await runByHand(base, work));
        loads.push(loadavg());
      }
      const a = r.imgforge.at(-1)!, b = r.hand.at(-1)!;
      log(`${node} ${i + 1}/${runs}: imgforge ${fmtS(a.ms)} s (${PHASES.map((p) => `${p} ${fmtS(a.phases[p])}`).join(', ')}; peak RSS ${(Math.max(...Object.values(a.rssKiB)) / 1024).toFixed(0)} MiB), `
        + `by hand ${fmtS(b.ms)} s (cp ${fmtS(b.steps.cp)}, openssl ${fmtS(b.steps.sha)}, bmaptool ${fmtS(b.steps.bmap)}); load ${loads.at(-1)}`);
    }
    const shas = new Set(r.imgforge.map((x) => x.image.sha256));
    // imgforge builds are reproducible: a difference means the code, config or templates changed during the benchmark.
    if (shas.size !== 1) throw new Error(`${node}: builds differ between runs (${[...shas].join(', ')}); was the tree edited meanwhile?`);
    results.set(node, r);
  }

  // What a changed --base costs: its SHA-256 keys the cache (sha256File, holes skipped); openssl for scale.
  log('hashing the base');
  const hashNow: number[] = [], opensslWarm: number[] = [];
  for (let i = 0; i < runs; i++) {
    opensslWarm.push((await timed('openssl', ['dgst', '-sha256', base])).ms);
    const t = performance.now();
    const a = await sha256File(base);
    hashNow.push(performance.now() - t);
    if (`${a}.img` !== raws[0]) throw new Error('the base hash is not the cache key');
  }

  log('timing the node bundle');
  const bundle = await bundleTime(join(ROOT, 'images.config.ts'), nodes);

  // Report.
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  const memGiB = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0) / 2 ** 20;
  const mount = sh('findmnt', ['-n', '-o', 'FSTYPE,OPTIONS', '-T', work]).trim().replace(/\s+/, ' (') + ')';
  const mib = (kib: number): string => (kib / 1024).toFixed(0);
  const lines: string[] = [];
  const p = (text = ''): void => { lines.push(text); };
  p(`Machine: ${cpus().length} CPUs (nproc), ${cpu}, ${memGiB.toFixed(0)} GiB RAM, temp dir on ${mount}; Node ${process.version}; `
    + `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC; load average (1 min) during the runs ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)}.`);
  p(`Tools: ${sh('cp', ['--version']).split('\n')[0]}; ${sh('openssl', ['version']).trim()}; bmaptool ${sh('bmaptool', ['--version']).trim().replace(/^bmaptool\s*/, '')}.`);
  p();
  p(`Base: ${baseSt.size} bytes (${fmtMiB(baseSt.size)}), ${fmtMiB(allocated(base))} allocated, ${fmtMiB(dataBytes)} of random data (${files} files on root, a kernel and initrd on /boot, EFI binaries on the ESP); `
    + `its cached raw copy (cache/raw/<sha256>.img) ${fmtMiB(allocated(raw))} allocated. Cold build of ${nodes[0]} (converting the base into the cache): ${fmtS(cold.ms)} s. `
    + `${runs} measured runs of each variant per node after one warm-up; times are median (min) wall seconds.`);
  p();
  p('| node | imgforge | by hand | imgforge / by hand | goal ≤ 0.5 | imgforge peak RSS (max of runs) | goal ≤ 150 MiB | image size | image allocated (bmap-mapped) | by-hand copy allocated | base allocated |');
  p('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [node, r] of results) {
    const a = r.imgforge.map((x) => x.ms), b = r.hand.map((x) => x.ms);
    const ratio = median(a) / median(b);
    const peak = Math.max(...r.imgforge.flatMap((x) => Object.values(x.rssKiB)));
    const img = r.imgforge[0]!.image;
    p(`| ${node} | ${fmtS(median(a))} (${fmtS(Math.min(...a))}) | ${fmtS(median(b))} (${fmtS(Math.min(...b))}) | ${ratio.toFixed(2)} | ${ratio <= 0.5 ? 'met' : 'missed'} `
      + `| ${mib(peak)} MiB | ${peak <= 150 * 1024 ? 'met' : 'missed'} | ${fmtMiB(img.size)} | ${fmtMiB(img.allocated)} (${fmtMiB(img.mapped)}) | ${fmtMiB(r.hand[0]!.allocated)} | ${fmtMiB(allocated(base))} |`);
  }
  p();
  p('Where the time goes (median seconds). imgforge phases run from one step line on stderr to the next: start-up (Node, config, plan) until `<node>: base`; '
    + 'base (hash --base, probe the cached raw) until `<node>: assemble`; assemble (copy, seed, root edits, hashing the image\'s head) until `<node>: verify, digest and audit`; then hashing the rest, the bmap and the checks, to exit.');
  p();
  p(`| node | ${PHASES.map((x) => `imgforge: ${x}`).join(' | ')} | by hand: cp --sparse=always | openssl dgst -sha256 | bmaptool create |`);
  p('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [node, r] of results) {
    const m = (f: (x: ImgforgeRun) => number): string => fmtS(median(r.imgforge.map(f)));
    const h = (f: (x: HandRun) => number): string => fmtS(median(r.hand.map(f)));
    p(`| ${node} | ${PHASES.map((x) => m((y) => y.phases[x])).join(' | ')} | ${h((x) => x.steps.cp)} | ${h((x) => x.steps.sha)} | ${h((x) => x.steps.bmap)} |`);
  }
  p();
  p('Peak RSS of the imgforge process per phase (MiB, max of the runs; VmHWM, reset at each step line), and of the largest process in the tree over a whole warm-up build (GNU time %M, no preload):');
  p();
  p(`| node | ${PHASES.join(' | ')} | largest process, whole build |`);
  p('| --- | --- | --- | --- | --- | --- |');
  for (const [node, r] of results) {
    p(`| ${node} | ${PHASES.map((x) => mib(Math.max(...r.imgforge.map((y) => y.rssKiB[x] ?? NaN)))).join(' | ')} | ${r.treeKiB === null ? 'n/a' : `${mib(r.treeKiB)}`} |`);
  }
  p();
  const baseMed = median([...results.values()].flatMap((r) => r.imgforge.map((x) => x.phases.base)));
  p(`A --base that changed is hashed again (its SHA-256 keys the cache): ${fmtS(median(hashNow))} s in-process (sha256File, holes skipped; median of ${runs}), `
    + `against ${fmtS(median(opensslWarm))} s for \`openssl dgst -sha256\` of the same file. An unchanged base is not rehashed: the base phase of the builds took ${fmtS(baseMed)} s (median over all nodes).`);
  p();
  p(`The node bundle (${bundle.bytes} bytes: the stage runtime, node.json, units, config files) adds ${median(bundle.ms).toFixed(1)} ms to a node's build `
    + `(median of ${bundle.ms.length}, max ${Math.max(...bundle.ms).toFixed(1)} ms; goal under 50 ms): rendering the node's files and packing them; the seed partition holds it beside the seed.`);
  p();
  p('Ratios another way: the fastest imgforge run against the fastest by-hand run (the by-hand time is bimodal; see the notes).');
  p();
  p('| node | imgforge min | by hand min | ratio of minimums |');
  p('| --- | --- | --- | --- |');
  for (const [node, r] of results) {
    const a = Math.min(...r.imgforge.map((x) => x.ms)), b = Math.min(...r.hand.map((x) => x.ms));
    p(`| ${node} | ${fmtS(a)} | ${fmtS(b)} | ${(a / b).toFixed(2)} |`);
  }
  const text = `${lines.join('\n')}\n`;
  process.stdout.write(text);
  if (flags.report) writeFileSync(flags.report, text);
} finally {
  if (flags.keep) log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
