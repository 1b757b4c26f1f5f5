// How planning scales: `imgforge plan --json` of a generated cluster of N x86 workers behind three
// control planes, side by side with an earlier imgforge (a git ref, checked out beside this one),
// in one run. Time is the whole command, process start to exit; memory is its peak RSS.
//   node scripts/bench-plan.ts [--nodes 500] [--runs 5] [--against 122db71]
// Results go to docs/bench-plan.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const nodes = Number(arg('nodes', '500'));
const runs = Number(arg('runs', '5'));
const against = arg('against', '122db71');
const work = mkdtempSync(join(tmpdir(), 'imgforge-bench-plan-'));

/** A cluster of `n` workers, three control planes, static addresses in a /16, one MAC each. */
export function bigConfig(n: number): string {
  const hex = (v: number): string => v.toString(16).padStart(2, '0');
  const list = [
    ...[1, 2, 3].map((i) => ({ hostname: `cp${i}`, board: 'x86', role: 'control-plane', address: `10.0.0.${10 + i}/16`, mac: `52:54:00:00:00:${hex(i)}` })),
    ...Array.from({ length: n }, (_, i) => ({
      hostname: `w${String(i).padStart(4, '0')}`, board: 'x86', role: 'worker', address: `10.0.${1 + Math.floor(i / 250)}.${(i % 250) + 1}/16`,
      mac: `52:54:00:01:${hex(Math.floor(i / 256))}:${hex(i % 256)}`,
    })),
  ];
  return `export default ${JSON.stringify({
    cluster: { name: 'big', kubernetesVersion: '1.35.3', controlPlaneEndpoint: { vip: '10.0.0.10' }, cni: { plugin: 'cilium' } },
    network: { gateway: '10.0.0.1', dns: ['10.0.0.1'] },
    users: [{ name: 'ops', sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHd4n0ExampleKeyForTheBundledExampleOnly0001 ops@laptop'] }],
    nodes: list,
  }, null, 1)};\n`;
}

/** One `plan --json` in a process of its own: wall seconds, peak RSS in MiB (getrusage of the child), output bytes. */
function measure(tree: string, config: string, extra: readonly string[]): { seconds: number; rssMiB: number; bytes: number } {
  const runner = `const { main } = await import(${JSON.stringify(join(tree, 'src/cli/main.ts'))});
let bytes = 0;
const code = await main(['--config', ${JSON.stringify(config)}, 'plan', '--json', ...${JSON.stringify(extra)}], { out: (t) => { bytes += t.length; }, err: () => {} });
process.stderr.write(JSON.stringify({ code, bytes, rss: process.resourceUsage().maxRSS }));`;
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', runner], { cwd: tree, encoding: 'utf8', env: { ...process.env, SOURCE_DATE_EPOCH: '1795478400' } });
  const seconds = (performance.now() - t) / 1000;
  const out = JSON.parse(r.stderr.slice(r.stderr.lastIndexOf('{'))) as { code: number; bytes: number; rss: number };
  if (out.code !== 0) throw new Error(`plan exited ${out.code} in ${tree}`);
  return { seconds, rssMiB: out.rss / 1024, bytes: out.bytes };
}

const config = join(work, 'big.config.mjs');
writeFileSync(config, bigConfig(nodes));
// The earlier imgforge, from git, with this checkout's node_modules (its own dependencies are a subset).
const old = join(work, 'before');
execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', old, against], { stdio: 'ignore' });
try {
  symlinkSync(join(root, 'node_modules'), join(old, 'node_modules'));
  const rows: { side: string; seconds: number; rssMiB: number; bytes: number }[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate the order so neither always runs on a warmer machine.
    for (const [side, tree] of (i % 2 ? [['now', root], ['before', old]] : [['before', old], ['now', root]]) as [string, string][]) {
      // An empty cache: no base is read, as on a machine that has not built yet (the earlier version reads none).
      const m = measure(tree, config, side === 'now' ? ['--cache-dir', join(work, 'cache')] : []);
      rows.push({ side, ...m });
      process.stdout.write(`run ${i + 1} ${side}: ${m.seconds.toFixed(2)} s, ${m.rssMiB.toFixed(0)} MiB\n`);
    }
  }
  const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]!; };
  const stat = (side: string) => ({ s: median(rows.filter((r) => r.side === side).map((r) => r.seconds)), m: median(rows.filter((r) => r.side === side).map((r) => r.rssMiB)) });
  const now = stat('now'), before = stat('before');
  writeFileSync(join(root, 'docs/bench-plan.md'), `# Planning benchmark

\`node scripts/bench-plan.ts --nodes ${nodes} --runs ${runs} --against ${against}\`, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.versions.node}.

\`imgforge plan --json\` of a generated config: ${nodes} x86 workers and three control planes (${nodes + 3} nodes),
each with its own address and MAC. The whole command, process start to exit, in a process of its
own; peak RSS from getrusage. "before" is imgforge at \`${against}\`, checked out beside this one
and run on the same config in the same run, alternating which goes first.

| | time (median of ${runs}) | peak RSS (median) |
|---|---|---|
| before (${against}) | ${before.s.toFixed(2)} s | ${before.m.toFixed(0)} MiB |
| now | ${now.s.toFixed(2)} s | ${now.m.toFixed(0)} MiB |

Goal: under 1 s and 200 MiB. ${now.s < 1 && now.m < 200 ? 'Met' : 'Not met'}.

Every run:

| run | side | time (s) | peak RSS (MiB) | output (bytes) |
|---|---|---|---|---|
${rows.map((r, i) => `| ${Math.floor(i / 2) + 1} | ${r.side} | ${r.seconds.toFixed(2)} | ${r.rssMiB.toFixed(0)} | ${r.bytes} |`).join('\n')}

What it took: the seed context's cluster-wide parts (every node's /etc/hosts lines, the etcd
members) computed once per plan instead of once per node; addresses parsed by their family
(ipaddr.js tries IPv6 first); /etc/hosts written through a filter rather than a template loop
over every node; the runtime every bundle shares packed and hashed once, each node's part hashed
on a copy of that hash; rendered YAML read back by js-yaml, five times faster than the parser
imgforge reads configs with; a plan that prints keeps no seed or bundle bytes; the CLI loads a
command's modules only when it runs.
`);
} finally {
  execFileSync('git', ['-C', root, 'worktree', 'remove', '--force', old], { stdio: 'ignore' });
  if (existsSync(work)) rmSync(work, { recursive: true, force: true });
}
