// Benchmark: `imgforge serve` with 1000 simulated nodes, 200 booting at once, side by side in one
// run with nginx serving the same files from disk and with the load generator's own ceiling (the
// same generator against a trivial node:http server). Results: docs/bench-serve.md.
//
//   node scripts/bench-serve.ts [--nodes 1000] [--concurrency 200] [--posts 4] [--runs 3] [--rounds 2]
//                               [--think 200] [--nginx-workers 1] [--fresh-connections] [--report FILE] [--keep]
//
// A simulated node makes its first boot's requests one after another, as cloud-init and
// runtime/bootstrap.sh make them from the enrolled seed URL: meta-data, user-data, vendor-data, the
// bundle and the secrets tar (under /nodes/<host>/<enrolment secret>/, the path being the proof),
// then --posts event posts: cloud-init webhook posts (one event, no Content-Type, the secret in the
// path) and the node's spool (JSON lines, Authorization: Bearer <secret>), alternating. Each node
// is one keep-alive connection (--fresh-connections: one per request, as curl and cloud-init's
// requests open them). The generator is one Node process (undici), in flight at most --concurrency
// nodes; every request's latency is taken from its start to the last byte of its body.
//
// Two loads. Saturated: a node asks again the moment it has its answer, so 200 requests are always
// waiting and latency is queueing (Little's law: 200 in flight at R requests/s wait 200/R s on
// average, whichever server). Paced (--think, 0 to skip): a node waits about --think ms after each
// answer (0.5 to 1.5 times, the nodes starting at random within one pause), as a booting node does
// between its fetches (far longer, really), so latency is what one request costs with 200 nodes at it.
//
// nginx cannot take the event posts, and answering them with a canned 204 would time nginx doing
// nothing against imgforge parsing, checking and appending them to disk. So the throughput
// comparison is the GET mix (the five files of every node) against both servers, and the whole
// boot mix (with the posts) is measured for imgforge alone.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client } from 'undici';
import { enrolmentSecret } from '../src/secrets/enrolment.ts';
import { boot, drive, type Load } from './bench-serve-load.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MIB = 2 ** 20;
const CLUSTER = 'bench';
const { values: flags } = parseArgs({ options: {
  nodes: { type: 'string', default: '1000' }, concurrency: { type: 'string', default: '200' }, posts: { type: 'string', default: '4' },
  runs: { type: 'string', default: '3' }, rounds: { type: 'string', default: '2' }, 'nginx-workers': { type: 'string', default: '1' },
  think: { type: 'string', default: '200' }, 'fresh-connections': { type: 'boolean', default: false }, report: { type: 'string' }, keep: { type: 'boolean', default: false },
} });
const think = Number(flags.think), nodes = Number(flags.nodes), concurrency = Number(flags.concurrency), posts = Number(flags.posts), runs = Number(flags.runs), rounds = Number(flags.rounds);
const log = (text: string): void => { process.stderr.write(`[bench] ${text}\n`); };

/** Three control planes and workers, static addresses in a /16, a MAC each; the pod range holds 4096 nodes' /24s. */
function config(n: number): { text: string; hosts: string[] } {
  const hex = (v: number): string => v.toString(16).padStart(2, '0');
  const list = Array.from({ length: n }, (_, i) => ({
    hostname: i < 3 ? `cp${i + 1}` : `w${String(i - 2).padStart(4, '0')}`, board: 'x86', role: i < 3 ? 'control-plane' : 'worker',
    address: `10.20.${1 + Math.floor(i / 250)}.${(i % 250) + 1}/16`, mac: `52:54:00:20:${hex(Math.floor(i / 256))}:${hex(i % 256)}`,
  }));
  const body = {
    cluster: { name: CLUSTER, kubernetesVersion: '1.35.3', controlPlaneEndpoint: { vip: '10.20.0.10' }, cni: { plugin: 'cilium' }, podCidr: '10.128.0.0/12' },
    network: { gateway: '10.20.0.1', dns: ['10.20.0.1'] },
    users: [{ name: 'ops', sshAuthorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHd4n0ExampleKeyForTheBundledExampleOnly0001 ops@laptop'] }],
    nodes: list,
  };
  const text = `import { defineConfig } from ${JSON.stringify(join(ROOT, 'src/index.ts'))};\n\nexport default defineConfig(${JSON.stringify(body, null, 1)});\n`;
  return { text, hosts: list.map((x) => x.hostname) };
}

/** A port nothing listens on now (the OS's choice, released): `serve --listen` is then given it as users give one. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Resolves when `port` accepts connections (nginx and the trivial server say nothing when ready). */
async function listening(port: number, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = new Client(`http://127.0.0.1:${port}`);
      c.request({ path: '/', method: 'GET' }).then(async (r) => { await r.body.dump(); resolve(true); }, () => resolve(false)).finally(() => void c.close());
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on port ${port}`);
}

/** CPU seconds of a process and its children (nginx's workers), from /proc. */
function cpuSeconds(pid: number): number {
  const one = (p: number): number => {
    const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  };
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return one(pid) + kids.reduce((s, k) => s + one(k), 0);
}
/** CPU seconds the whole machine spent busy (every process, steal included), from /proc/stat. */
function machineBusy(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3]! - f[4]!) / 100; // all but idle and iowait
}
/** VmRSS and VmHWM of a process, MiB. */
function memory(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}
/** RSS of a process and its children, MiB. */
const treeRss = (pid: number): number => [pid, ...readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)]
  .reduce((s, p) => s + memory(p).rss, 0);

interface Row { readonly name: string; readonly load: Load; readonly serverCpu: number; readonly othersCpu: number }
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
function quantile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
function stats(l: Load, kind?: string): { p50: number; p99: number; max: number; n: number } {
  const xs = Float64Array.from(kind ? Array.from(l.latencies).filter((_, i) => l.kinds[i] === kind) : l.latencies).sort();
  return { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99), max: xs.length ? xs[xs.length - 1]! : NaN, n: xs.length };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'imgforge-bench-serve-'));
  chmodSync(work, 0o755); // nginx's worker (nobody, when started as root) reads www/ below it; secrets/ stays 0700
  const children: ChildProcess[] = [];
  const lines: string[] = [];
  const load0 = loadavg();
  try {
    // 1. The config, and imgforge serve as users run it, on a free port of 127.0.0.1.
    const { text, hosts } = config(nodes);
    mkdirSync(join(work, 'cluster'));
    writeFileSync(join(work, 'cluster/images.config.ts'), text);
    const env = { ...process.env, IMGFORGE_SECRETS_DIR: join(work, 'secrets') };
    const ports = { imgforge: await freePort(), nginx: await freePort(), trivial: await freePort() };
    const started = performance.now();
    const access = join(work, 'imgforge-access.log');
    writeFileSync(access, '');
    // --rate 0: every simulated node comes from 127.0.0.1, and one address's bucket (600 a minute) would refuse them.
    const serve = spawn(process.execPath, [join(ROOT, 'bin/imgforge.js'), '--config', join(work, 'cluster/images.config.ts'), 'serve',
      '--listen', `127.0.0.1:${ports.imgforge}`, '--rate', '0', '--state-dir', join(work, 'state'), '--json'],
    { cwd: join(work, 'cluster'), env, stdio: ['ignore', 'pipe', openSync(access, 'a')] });
    children.push(serve);
    // Its stdout is read to the end (kept in the work folder): a full pipe would stall the server. Lines before
    // the start event are skipped, so NODE_OPTIONS=--trace-gc can show the server's collections there.
    const stdout = join(work, 'imgforge-stdout.log');
    const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
      createInterface({ input: serve.stdout! }).on('line', (l) => {
        writeFileSync(stdout, `${l}\n`, { flag: 'a' });
        if (l.startsWith('{"event"')) resolve(JSON.parse(l) as Record<string, unknown>);
      });
      serve.once('exit', (code) => reject(new Error(`imgforge serve exited ${code}: ${readFileSync(access, 'utf8').slice(-2000)}`)));
    });
    if (first['event'] !== 'listening') throw new Error(`imgforge serve said ${JSON.stringify(first)}`);
    const startSeconds = (performance.now() - started) / 1000;
    const atStart = memory(serve.pid!);
    log(`imgforge serve: ${nodes} nodes planned and listening after ${startSeconds.toFixed(1)} s, RSS ${atStart.rss.toFixed(0)} MiB, peak ${atStart.hwm.toFixed(0)} MiB`);
    // Each node's enrolment secret, as `serve --dry-run --reveal` derives it, from the key serve made on first use.
    const key = Buffer.from(readFileSync(join(work, 'secrets', `${CLUSTER}.serve-key`), 'utf8').split('\n').find((l) => /^[0-9a-f]{64}$/.test(l))!, 'hex');
    const secrets = new Map(hosts.map((h) => [h, enrolmentSecret(key, CLUSTER, h)]));

    // 2. The same files on disk for nginx: every GET of the mix, fetched from imgforge serve once (also its warm-up).
    const www = join(work, 'www');
    const client = new Client(`http://127.0.0.1:${ports.imgforge}`, { pipelining: 1 });
    let onDisk = 0;
    for (const h of hosts) {
      for (const r of boot(h, secrets.get(h)!, false, posts)) {
        const res = await client.request({ path: r.path, method: 'GET' });
        const body = Buffer.from(await res.body.arrayBuffer());
        if (res.statusCode !== 200) throw new Error(`GET ${r.path}: ${res.statusCode}`);
        mkdirSync(join(www, dirname(r.path)), { recursive: true, mode: 0o755 });
        writeFileSync(join(www, r.path), body, { mode: 0o644 });
        onDisk += body.length;
      }
    }
    await client.close();
    // VmHWM from here on is what serving takes, not what planning took (proc(5) clear_refs 5: reset the peak to the current RSS).
    const planPeak = memory(serve.pid!).hwm;
    writeFileSync(`/proc/${serve.pid}/clear_refs`, '5');

    // 3. nginx: its own conf, pid, logs and temp folders in the work folder; logging every request as imgforge does.
    const ng = join(work, 'nginx');
    mkdirSync(ng);
    writeFileSync(join(ng, 'nginx.conf'), `worker_processes ${flags['nginx-workers']};
pid ${ng}/nginx.pid;
error_log ${ng}/error.log;
events { worker_connections 4096; }
http {
  types { application/x-tar tar; }
  default_type text/plain;
  access_log ${ng}/access.log;
  client_body_temp_path ${ng}/body; proxy_temp_path ${ng}/proxy; fastcgi_temp_path ${ng}/fastcgi; uwsgi_temp_path ${ng}/uwsgi; scgi_temp_path ${ng}/scgi;
  sendfile on; tcp_nopush on; keepalive_requests 100000; keepalive_timeout 60s;
  server {
    listen 127.0.0.1:${ports.nginx};
    root ${www};
    add_header Cache-Control no-store;
    add_header X-Content-Type-Options nosniff;
  }
}
`);
    const nginx = spawn('nginx', ['-p', ng, '-c', join(ng, 'nginx.conf'), '-e', join(ng, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(nginx);
    await listening(ports.nginx, nginx, 'nginx');
    // 4. The generator's ceiling: a trivial node:http server answering "ok" to everything, in a process of its own.
    const trivial = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => { s.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 }); s.end('ok'); }); }).listen(${ports.trivial}, '127.0.0.1')`], { stdio: 'inherit' });
    children.push(trivial);
    await listening(ports.trivial, trivial, 'the trivial server');

    // 5. Side by side: each run drives every target once, the order rotating so none always runs on a warmer machine.
    const nginxName = `nginx ${spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr.trim().replace('nginx version: nginx/', '')}`;
    const paced = `, ${think} ms between a node's requests`;
    const targets: [string, number, number, boolean, number][] = [
      ['imgforge serve: boot mix (GETs + posts)', ports.imgforge, serve.pid!, true, 0],
      ['imgforge serve: GET mix', ports.imgforge, serve.pid!, false, 0],
      [`${nginxName}: GET mix`, ports.nginx, nginx.pid!, false, 0],
      ['ceiling (trivial node:http): boot mix', ports.trivial, trivial.pid!, true, 0],
      ['ceiling (trivial node:http): GET mix', ports.trivial, trivial.pid!, false, 0],
      ...(think > 0 ? [
        [`imgforge serve: boot mix${paced}`, ports.imgforge, serve.pid!, true, think],
        [`${nginxName}: GET mix${paced}`, ports.nginx, nginx.pid!, false, think],
        [`ceiling (trivial node:http): boot mix${paced}`, ports.trivial, trivial.pid!, true, think],
      ] as [string, number, number, boolean, number][] : []),
    ];
    const results = new Map<string, Row[]>();
    const rssAfter: number[] = [];
    let nginxRss = 0;
    const loads: number[] = [];
    for (let r = 0; r < runs; r++) {
      for (let k = 0; k < targets.length; k++) {
        const [name, port, pid, withPosts, thinkMs] = targets[(k + r) % targets.length]!;
        const cpu0 = cpuSeconds(pid), busy0 = machineBusy();
        const l = await drive(port, hosts, secrets, { withPosts, thinkMs, rounds, concurrency, posts, freshConnections: flags['fresh-connections'] === true });
        const serverCpu = cpuSeconds(pid) - cpu0;
        // What the rest of the machine took meanwhile (other VMs on a shared host), as a share of all its CPUs.
        const othersCpu = (machineBusy() - busy0 - serverCpu - l.generatorCpu) / (cpus().length * l.seconds);
        const row = { name, load: l, serverCpu, othersCpu: Math.max(0, othersCpu) };
        results.set(name, [...(results.get(name) ?? []), row]);
        if (pid === serve.pid) rssAfter.push(memory(pid).rss);
        if (pid === nginx.pid) nginxRss = Math.max(nginxRss, treeRss(pid));
        loads.push(loadavg()[0]!);
        const s = stats(l);
        log(`run ${r + 1}: ${name}: ${l.requests} requests in ${l.seconds.toFixed(2)} s, ${(l.requests / l.seconds).toFixed(0)}/s, p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms, ${l.errors} errors${l.firstError ? ` (${l.firstError})` : ''}, others' CPU ${(100 * row.othersCpu).toFixed(0)} %, load ${loadavg()[0]!.toFixed(2)}`);
      }
    }
    const servePeak = memory(serve.pid!).hwm;

    // 6. The report: medians over runs (of each run's p50, p99, max and rate).
    const m = (name: string, f: (x: Row) => number): number => median(results.get(name)!.map(f));
    const rate = (x: Row): number => x.load.requests / x.load.seconds;
    lines.push(`${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.versions.node}, ${new Date().toISOString().slice(0, 16)}Z; load average (1 min) `
      + `${load0[0]!.toFixed(2)} at the start, ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)} after each measurement`, '');
    lines.push(`${nodes} nodes (${rounds} boots of each per measurement), ${concurrency} in flight, ${posts} event posts a boot, `
      + `${flags['fresh-connections'] ? 'a new connection per request' : 'one keep-alive connection per node'}; nginx with ${flags['nginx-workers']} worker; `
      + `${runs} runs, medians; ${(onDisk / MIB).toFixed(0)} MiB of files on disk for nginx`, '');
    lines.push('| target | requests/s | MiB/s | p50 ms | p99 ms | max ms | errors | server CPU ms/request | generator CPU % | other processes CPU % |', '|---|---|---|---|---|---|---|---|---|---|');
    for (const [name] of targets) {
      const rs = results.get(name)!;
      lines.push(`| ${name} | ${m(name, rate).toFixed(0)} | ${m(name, (x) => x.load.bytes / MIB / x.load.seconds).toFixed(1)} | ${m(name, (x) => stats(x.load).p50).toFixed(1)} | `
        + `${m(name, (x) => stats(x.load).p99).toFixed(1)} | ${m(name, (x) => stats(x.load).max).toFixed(1)} | ${rs.reduce((s, x) => s + x.load.errors, 0)} of ${rs.reduce((s, x) => s + x.load.requests, 0)} | `
        + `${m(name, (x) => (1000 * x.serverCpu) / x.load.requests).toFixed(2)} | ${m(name, (x) => (100 * x.load.generatorCpu) / x.load.seconds).toFixed(0)} | ${m(name, (x) => 100 * x.othersCpu).toFixed(0)} |`);
    }
    lines.push('');
    for (const [name] of targets.filter(([n, , pid, withPosts]) => pid === serve.pid && withPosts && results.has(n))) {
      lines.push(`${name}, by request (median over runs): `
        + ['seed file', 'imgforge-bundle.tar', 'imgforge-secrets.tar', 'event post'].map((k) => `${k} p50 ${m(name, (x) => stats(x.load, k).p50).toFixed(1)} / p99 ${m(name, (x) => stats(x.load, k).p99).toFixed(1)} ms`).join('; '), '');
    }
    lines.push(`GET mix throughput, imgforge / nginx: ${(m(targets[1]![0], rate) / m(targets[2]![0], rate)).toFixed(2)}`, '');
    lines.push(`imgforge serve memory: planning ${nodes} nodes peaked at ${planPeak.toFixed(0)} MiB and took ${startSeconds.toFixed(1)} s; RSS ${atStart.rss.toFixed(0)} MiB when listening, `
      + `peak while serving ${servePeak.toFixed(0)} MiB, ${rssAfter.map((x) => x.toFixed(0)).join(', ')} MiB after each imgforge measurement. nginx (master and workers): ${nginxRss.toFixed(0)} MiB.`);
    const errs = [...results.values()].flat().map((x) => x.load.firstError).filter(Boolean);
    if (errs.length) lines.push('', `first errors: ${[...new Set(errs)].slice(0, 5).join('; ')}`);
  } finally {
    for (const c of children.reverse()) {
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((resolve) => c.once('exit', resolve));
        c.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }
    }
    if (!flags.keep) rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
  const text = `${lines.join('\n')}\n`;
  if (flags.report) writeFileSync(flags.report, text);
  process.stdout.write(text);
}

await main();
