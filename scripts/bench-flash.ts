// Benchmark: `imgforge flash` against `bmaptool copy` and `dd` of the same image, side by side in
// one run, to a file and to a loop block device throttled like a slow SSD or SD card. Results:
// docs/bench-flash.md.
//
//   node scripts/bench-flash.ts [--size-mib 512] [--mapped 0.25] [--runs 3] [--write-mibs 30] [--read-mibs 90] [--report FILE] [--keep]
//
// The image is synthetic: a GPT disk with one partition holding random data in about 500 ranges of
// 4 KiB to 12 MiB (the shape of a built image's mapped blocks), and its bmap from imgforge's digester.
// The loop device is throttled with a blkio cgroup (v1 blkio.throttle.*_bps_device) that only the
// measured tools run in; where loop devices or that cgroup are unavailable, only the file target runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, rmdirSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { digestImage } from '../src/execute/image/digest.ts';
import { encodeGpt } from '../src/image/gpt.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MIB = 2 ** 20;
const { values: flags } = parseArgs({ options: {
  'size-mib': { type: 'string', default: '512' }, mapped: { type: 'string', default: '0.25' }, runs: { type: 'string', default: '3' },
  'write-mibs': { type: 'string', default: '30' }, 'read-mibs': { type: 'string', default: '90' }, report: { type: 'string' }, keep: { type: 'boolean', default: false },
} });
const sizeBytes = Number(flags['size-mib']) * MIB, share = Number(flags.mapped), runs = Number(flags.runs);
const log = (text: string): void => { process.stderr.write(`[bench] ${text}\n`); };

/** A GPT image with random data in ranges covering about `share` of it, and its .bmap. */
async function makeImage(dir: string): Promise<{ image: string; mapped: number }> {
  const image = join(dir, 'bench.img'), sectors = sizeBytes / 512;
  const gpt = encodeGpt({ diskSectors: sectors, diskGuid: '0B3E1C2A-1111-4222-8333-444455556666', partitions: [
    { number: 1, typeGuid: '0FC63DAF-8483-4772-8E79-3D69D8477DE4', uniqueGuid: '0B3E1C2A-0000-4000-8000-000000000001', firstLba: 2048, lastLba: sectors - 2049, attributes: 0n, name: 'data' }] });
  const fd = openSync(image, 'w');
  ftruncateSync(fd, sizeBytes);
  writeSync(fd, gpt.primary, 0, gpt.primary.length, 0);
  writeSync(fd, gpt.backup, 0, gpt.backup.length, gpt.backupOffsetBytes);
  let seed = 12345;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const want = share * sizeBytes;
  for (let at = MIB, data = 0; data < want && at < sizeBytes - 2 * MIB;) {
    const len = Math.min(Math.round((4096 + next() ** 3 * 12 * MIB) / 4096) * 4096, sizeBytes - 2 * MIB - at);
    writeSync(fd, randomBytes(len), 0, len, at);
    data += len;
    at += len + Math.round((next() * 2 * len * (1 - share) / share) / 4096) * 4096; // gaps average len × (1 − share) / share
  }
  closeSync(fd);
  const digest = await digestImage(image, sizeBytes, [{ offset: 0, length: 34 * 512 }, { offset: gpt.backupOffsetBytes, length: gpt.backup.length }]);
  writeFileSync(`${image}.bmap`, digest.bmap);
  return { image, mapped: digest.mappedBytes };
}

interface Run { readonly tool: string; readonly wall: number; readonly cpu: number; readonly rssMiB: number; readonly writtenMiB: number }

/** One tool run under /usr/bin/time, inside the cgroup when given; bytes written from the cgroup's counters or the file's allocation. */
function measure(tool: string, argv: string[], target: string, cgroup: string | null, dev: string | null): Run {
  const before = cgroup && dev ? cgroupWritten(cgroup, dev) : 0;
  const inner = cgroup ? ['sh', '-c', `echo $$ > ${cgroup}/cgroup.procs && exec "$@"`, 'sh', ...argv] : argv;
  const start = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', ...inner], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const wall = (performance.now() - start) / 1000;
  if (r.status !== 0) throw new Error(`${tool} exited ${r.status}: ${r.stderr}`);
  const [user, sys, rss] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number, number];
  const written = cgroup && dev ? cgroupWritten(cgroup, dev) - before : statSync(target).blocks * 512;
  return { tool, wall, cpu: user + sys, rssMiB: rss / 1024, writtenMiB: written / MIB };
}

function cgroupWritten(cgroup: string, dev: string): number {
  const text = execFileSync('cat', [`${cgroup}/blkio.throttle.io_service_bytes`], { encoding: 'utf8' });
  return Number(new RegExp(`^${dev} Write (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function tools(image: string, target: string, block: boolean): [string, string[]][] {
  const flash = [process.execPath, 'bin/imgforge.js', '--config', '/nonexistent/images.config.ts', 'flash', image, target, '--yes', '--wipe'];
  return [
    ['dd', ['dd', `if=${image}`, `of=${target}`, 'bs=4M', ...(block ? ['oflag=direct'] : []), 'conv=fsync,notrunc', 'status=none']],
    ['bmaptool copy', ['bmaptool', '-q', 'copy', '--bmap', `${image}.bmap`, image, target]],
    ['imgforge flash --no-verify', [...flash, '--no-verify']],
    ['imgforge flash (read-back verify)', flash],
  ];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'imgforge-bench-flash-'));
  const lines: string[] = [];
  let loop: string | null = null, cgroup: string | null = null;
  try {
    const { image, mapped } = await makeImage(dir);
    log(`image ${sizeBytes / MIB} MiB, ${(mapped / MIB).toFixed(1)} MiB mapped (${((100 * mapped) / sizeBytes).toFixed(1)} %)`);
    lines.push(`image: ${sizeBytes / MIB} MiB, ${(mapped / MIB).toFixed(1)} MiB mapped (${((100 * mapped) / sizeBytes).toFixed(1)} %), runs: ${runs} (median)`, '');
    const targets: { name: string; path: string; block: boolean }[] = [{ name: 'file', path: join(dir, 'target.img'), block: false }];
    if (process.getuid?.() === 0 && existsSync('/dev/loop-control') && existsSync('/sys/fs/cgroup/blkio/cgroup.procs')) {
      const backing = join(dir, 'loop-backing.img');
      execFileSync('truncate', ['-s', String(sizeBytes + 64 * MIB), backing]);
      loop = execFileSync('losetup', ['--find', '--show', '--direct-io=on', backing], { encoding: 'utf8' }).trim();
      const dev = execFileSync('cat', [`/sys/class/block/${loop.slice(5)}/dev`], { encoding: 'utf8' }).trim();
      cgroup = `/sys/fs/cgroup/blkio/imgforge-bench-${process.pid}`;
      mkdirSync(cgroup);
      writeFileSync(`${cgroup}/blkio.throttle.write_bps_device`, `${dev} ${Number(flags['write-mibs']) * MIB}`);
      writeFileSync(`${cgroup}/blkio.throttle.read_bps_device`, `${dev} ${Number(flags['read-mibs']) * MIB}`);
      targets.push({ name: `loop device ${flags['write-mibs']} MiB/s write, ${flags['read-mibs']} MiB/s read`, path: loop, block: true });
    } else {
      log('no loop device or blkio cgroup here: the file target only');
    }
    for (const t of targets) {
      const dev = t.block ? execFileSync('cat', [`/sys/class/block/${t.path.slice(5)}/dev`], { encoding: 'utf8' }).trim() : null;
      const results = new Map<string, Run[]>();
      for (let i = 0; i < runs; i++) {
        for (const [tool, argv] of tools(image, t.path, t.block)) {
          if (!t.block) rmSync(t.path, { force: true });
          const r = measure(tool, argv, t.path, t.block ? cgroup : null, dev);
          log(`${t.name}: ${tool} ${r.wall.toFixed(2)} s`);
          results.set(tool, [...(results.get(tool) ?? []), r]);
        }
      }
      const floor = t.block ? mapped / (Number(flags['write-mibs']) * MIB) : null;
      lines.push(`### ${t.name}`, '', '| tool | wall s | CPU s | peak RSS MiB | written MiB |', '|---|---|---|---|---|');
      for (const [tool, rs] of results) {
        lines.push(`| ${tool} | ${median(rs.map((r) => r.wall)).toFixed(2)} | ${median(rs.map((r) => r.cpu)).toFixed(2)} | ${median(rs.map((r) => r.rssMiB)).toFixed(0)} | ${median(rs.map((r) => r.writtenMiB)).toFixed(1)} |`);
      }
      if (floor) lines.push(`| floor: mapped ÷ write bandwidth | ${floor.toFixed(2)} | | | ${(mapped / MIB).toFixed(1)} |`);
      lines.push('');
    }
  } finally {
    // Partitions the kernel was told about (flash rereads the table) outlive the loop device on some kernels.
    if (loop) { spawnSync('partx', ['-d', loop]); execFileSync('losetup', ['-d', loop]); }
    if (cgroup) rmdirSync(cgroup);
    if (!flags.keep) rmSync(dir, { recursive: true, force: true });
  }
  const text = `${lines.join('\n')}\n`;
  if (flags.report) writeFileSync(flags.report, text);
  process.stdout.write(text);
}

await main();
