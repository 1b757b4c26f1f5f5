// Boot overhead of imgforge's first boot against the same base booted with a bare cloud-localds
// seed, same run, same QEMU settings (TCG here, KVM where present):
//   node scripts/bench-boot.ts [--runs 2] [--cache-dir .cache/imgforge] [--logs <dir>]
// Power-on to imgforge's "complete" event (every first-boot stage done, cloud-init finished)
// against power-on to a bare runcmd marker. Results go to docs/bench-boot.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { boot, type ConsoleLine, type ReceivedEvent } from '../src/execute/vm.ts';
import type { Event } from '../src/protocol/events.ts';
import { timeline } from '../src/execute/vm-test.ts';
import { createOverlay, kvmUsable, requireFirmware } from '../src/tools/qemu.ts';
import type { VmSpec } from '../src/plan/vm.ts';
import { main } from '../src/cli/main.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const runs = Number(arg('runs', '2'));
const cacheDir = arg('cache-dir', join(root, '.cache/imgforge'));
// Every boot's console, time-stamped, to compare the two sides line by line.
const logs = arg('logs', '');
const config = join(root, 'test/fixtures/qemu.config.mjs');
const work = mkdtempSync(join(tmpdir(), 'imgforge-bench-boot-'));
// The cluster's secrets go to the benchmark's own folder, not beside the config in the checkout.
process.env['IMGFORGE_SECRETS_DIR'] ??= join(work, 'secrets');
const fw = requireFirmware('amd64');
const kvm = kvmUsable('amd64');

async function cli(args: string[]): Promise<string> {
  let out = '';
  const code = await main(args, { out: (t) => { out += t; }, err: () => undefined });
  if (code !== 0) throw new Error(`imgforge ${args.join(' ')} exited ${code}`);
  return out;
}

function vm(disk: string, name: string): VmSpec {
  const vars = join(work, `${name}.vars`);
  copyFileSync(fw.vars, vars);
  return { arch: 'amd64', firmware: 'uefi', disk, code: fw.code, vars, kvm, memoryMiB: 2048, cpus: 2, mac: '52:54:00:12:34:56', qmp: join(work, `${name}.qmp`), events: join(work, `${name}.events`) };
}

type Timed = { seconds: number; lines: ConsoleLine[]; events: ReceivedEvent[] };

/** The bare seed's marker is a console line; imgforge's is its "complete" event. */
async function timed(spec: VmSpec, done: RegExp | ((e: Event) => boolean), extra: string[] = []): Promise<Timed> {
  // The bare seed rides on a second virtio disk, as cloud-localds users attach it.
  const r = await boot({ ...spec, extraArgs: extra }, { timeoutMs: 900_000, ...(done instanceof RegExp ? { doneWhen: done } : { doneOn: done }) });
  const hit = done instanceof RegExp ? r.lines.find((l) => done.test(l.text))?.t : r.events.find((e) => done(e.event))?.t;
  if (hit === undefined) throw new Error(`no marker (${r.outcome})`);
  return { seconds: hit, lines: [...r.lines], events: [...r.events] };
}

// The bare side is seeded the way cloud-localds users do it (Debian package cloud-image-utils).
if (spawnSync('cloud-localds', ['--help'], { stdio: 'ignore' }).error) {
  process.stderr.write('bench-boot needs cloud-localds: apt-get install cloud-image-utils\n');
  process.exit(2);
}
const out = JSON.parse(await cli(['--config', config, 'build', 'vm1', '--out', join(work, 'out'), '--cache-dir', cacheDir, '--json'])) as { artifacts: { image: string }[] };
const image = out.artifacts[0]!.image;
const manifest = JSON.parse(readFileSync(image.replace(/\.img$/, '.manifest.json'), 'utf8')) as { base: { sha256: string } };
const base = join(cacheDir, 'bootstrap', `${manifest.base.sha256}.img`);

writeFileSync(join(work, 'user-data'), '#cloud-config\nruncmd:\n  - [sh, -c, "echo bare seed done > /dev/console"]\n');
writeFileSync(join(work, 'meta-data'), 'instance-id: iid-bare\nlocal-hostname: bare\n');
execFileSync('cloud-localds', [join(work, 'seed.img'), join(work, 'user-data'), join(work, 'meta-data')]);

const rows: { run: number; bare: number; imgforge: number }[] = [];
let lastTimelines: { bare: ReturnType<typeof timeline>; imgforge: ReturnType<typeof timeline> } | undefined;
for (let i = 0; i < runs; i++) {
  const bareDisk = join(work, `bare-${i}.qcow2`), ifDisk = join(work, `imgforge-${i}.qcow2`);
  await createOverlay(base, bareDisk, 16 * 2 ** 30);
  await createOverlay(image, ifDisk, 16 * 2 ** 30);
  // Alternate the order so neither always runs on a warmer host.
  const pair = async (): Promise<[number, number]> => {
    const bare = (): ReturnType<typeof timed> => timed(vm(bareDisk, `bare-${i}`), /bare seed done/, ['-drive', `file=${join(work, 'seed.img')},format=raw,if=virtio,readonly=on`]);
    const ours = (): ReturnType<typeof timed> => timed(vm(ifDisk, `if-${i}`), (e) => e.stage === 'complete' && e.state === 'ok');
    let b, f;
    if (i % 2 === 0) { b = await bare(); f = await ours(); } else { f = await ours(); b = await bare(); }
    lastTimelines = { bare: timeline(b.lines), imgforge: timeline(f.lines, f.events) };
    if (logs) {
      mkdirSync(logs, { recursive: true });
      for (const [side, r] of [['bare', b], ['imgforge', f]] as const) writeFileSync(join(logs, `${side}-${i + 1}.log`), r.lines.map((l) => `[${l.t.toFixed(1)}] ${l.text}\n`).join(''));
    }
    return [b.seconds, f.seconds];
  };
  const [bare, imgforge] = await pair();
  rows.push({ run: i + 1, bare, imgforge });
  process.stdout.write(`run ${i + 1}: bare ${bare.toFixed(1)} s, imgforge ${imgforge.toFixed(1)} s, ratio ${(imgforge / bare).toFixed(2)}\n`);
}
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]!; };
const mb = median(rows.map((r) => r.bare)), mi = median(rows.map((r) => r.imgforge));
const fmt = (t: ReturnType<typeof timeline>): string => t.map((e) => `| ${e.t.toFixed(1)} | ${e.event} |`).join('\n');
writeFileSync(join(root, 'docs/bench-boot.md'), `# Boot overhead benchmark

\`node scripts/bench-boot.ts --runs ${runs}\`, ${new Date().toISOString().slice(0, 10)}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}),
QEMU ${kvm ? 'KVM' : 'TCG (no KVM)'}, q35 + OVMF, 2 vCPUs, 2 GiB, a 16 GiB qcow2 overlay over each image.

The same Debian 12 base (built from packages by imgforge) booted two ways: with a bare
cloud-localds seed on a second disk whose only work is a runcmd marker, and as the imgforge node
image (seed on its own CIDATA partition; the files and identity stages in bootcmd, layout and
prepare in a unit alongside cloud-init's later stages, runcmd finishing). Time is power-on to the marker on the
serial console: the bare seed's runcmd marker, and imgforge's "first boot complete".

| run | bare seed (s) | imgforge (s) | ratio |
|---|---|---|---|
${rows.map((r) => `| ${r.run} | ${r.bare.toFixed(1)} | ${r.imgforge.toFixed(1)} | ${(r.imgforge / r.bare).toFixed(2)} |`).join('\n')}
| median | ${mb.toFixed(1)} | ${mi.toFixed(1)} | ${(mi / mb).toFixed(2)} |

Goal: imgforge ≤ 1.05× the bare seed. ${mi / mb <= 1.05 ? 'Met' : 'Not met'} (ratio of the medians ${(mi / mb).toFixed(2)}; median of the
per-run ratios ${median(rows.map((r) => r.imgforge / r.bare)).toFixed(2)}). The bare seed's own time ranged
from ${Math.min(...rows.map((r) => r.bare)).toFixed(1)} to ${Math.max(...rows.map((r) => r.bare)).toFixed(1)} s over these runs.

## Timeline of the last run

Bare seed:

| t (s) | event |
|---|---|
${fmt(lastTimelines!.bare)}

imgforge:

| t (s) | event |
|---|---|
${fmt(lastTimelines!.imgforge)}
`);
rmSync(work, { recursive: true, force: true });
