import { existsSync, readFileSync, statSync } from 'node:fs';
import { imgforgeError } from '../../errors/error.ts';
import { runVmTest, timeline, type BootRecord } from '../../execute/vm-test.ts';
import { probeBase } from '../../image/probe.ts';
import { seedContext } from '../../plan/context.ts';
import { judgeReport, parseReport, type Verdict } from '../../plan/expect.ts';
import { placePartitions, planLayout } from '../../plan/layout.ts';
import { kvmUsable } from '../../tools/qemu.ts';
import { parseBytes } from '../../util/size.ts';
import { json, type Io } from '../output.ts';
import { loadAndCheck, type GlobalOptions } from '../context.ts';
import { buildCommand } from './build.ts';

export interface TestFlags {
  readonly diskSize: string;
  readonly timeout: string;
  readonly keep: boolean;
  readonly killAt?: string;
  readonly plantStale: boolean;
  readonly firmware?: string;
  readonly accel: string;
  readonly out: string;
  readonly base?: string;
  readonly cacheDir?: string;
}

/** A swap signature ("SWAPSPACE2" at the end of the first page, mkswap(8)): what blkid finds on a reused disk. */
function staleSignature(): Buffer {
  const b = Buffer.alloc(4096);
  b.write('SWAPSPACE2', 4086, 'latin1');
  b.writeUInt32LE(1, 1024); // version 1
  return b;
}

const STAGES = ['identity', 'layout', 'prepare'];

/** imgforge test <image|node>: boot it under QEMU and judge what the node reports against its plan. */
export async function testCommand(target: string, opts: GlobalOptions & TestFlags, io: Io): Promise<number> {
  const diskBytes = parseBytes(opts.diskSize);
  if (diskBytes === undefined) throw imgforgeError('BadFlag', { detail: `--disk-size takes a size such as 16GiB, not "${opts.diskSize}"` });
  const timeoutMs = Number(opts.timeout) * 1000;
  if (!(timeoutMs > 0)) throw imgforgeError('BadFlag', { detail: `--timeout takes seconds, not "${opts.timeout}"` });
  if (!['auto', 'kvm', 'tcg'].includes(opts.accel)) throw imgforgeError('BadFlag', { detail: `--accel takes auto, kvm or tcg, not "${opts.accel}"` });
  let image = target;
  if (!existsSync(target)) {
    let built = '';
    // A compact image (no --disk-size), so the first boot's layout stage does the partitioning.
    const code = await buildCommand([target], { ...opts, diskSize: undefined, json: true, allowUnverified: false, force: false }, { out: (t) => { built += t; }, err: io.err });
    if (code !== 0) return code;
    image = (JSON.parse(built) as { artifacts: { image: string }[] }).artifacts[0]!.image;
  }
  const manifestFile = image.replace(/\.img$/, '.manifest.json');
  if (!existsSync(manifestFile)) throw imgforgeError('ReadFailed', { path: manifestFile, detail: 'no manifest next to the image; build it with imgforge build' });
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { node: string };
  const { cluster } = await loadAndCheck(opts);
  const node = cluster.nodes.find((n) => n.config.hostname === manifest.node);
  if (!node) throw imgforgeError('UnknownNode', { node: manifest.node, known: cluster.nodes.map((n) => n.config.hostname).join(', ') });
  const bootable = node.profile.boot.firmware.filter((f): f is 'uefi' | 'bios' => f === 'uefi' || (f === 'bios' && node.profile.arch === 'amd64'));
  if (bootable.length === 0) {
    throw imgforgeError('Unsupported', { what: `Booting ${node.config.board} images in QEMU (they start from the board's own U-Boot and vendor kernel, which QEMU does not emulate; their seed and layout stage are the ones tested on x86 nodes)` });
  }
  const firmware = (opts.firmware ?? bootable[0]!) as 'uefi' | 'bios';
  if (!bootable.includes(firmware)) throw imgforgeError('BadFlag', { detail: `--firmware ${opts.firmware}: ${node.config.board} images boot in QEMU by ${bootable.join(' or ')}` });
  if (diskBytes < statSync(image).size) throw imgforgeError('BadFlag', { detail: '--disk-size must be at least the image size' });
  const kvm = opts.accel === 'auto' ? kvmUsable(node.profile.arch) : opts.accel === 'kvm';
  const ctx = seedContext(cluster, node);
  let plant: { offsetBytes: number; data: Buffer } | undefined;
  const raw = node.profile.layout.reserved.find((r) => r.format === 'raw');
  if (opts.plantStale && raw) {
    const root = probeBase(image).partitions.at(-1)!;
    const placed = placePartitions(planLayout(node.profile.layout, diskBytes), root.firstLba, diskBytes / 512);
    if (typeof placed !== 'string') plant = { offsetBytes: placed.find((p) => p.name === raw.name)!.firstLba * 512, data: staleSignature() };
  }
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  let result;
  try {
    result = await runVmTest({
      image, arch: node.profile.arch, firmware, diskBytes, mac: node.config.mac ?? null, timeoutMs, kvm, keep: opts.keep,
      plant, killAt: opts.killAt ? new RegExp(opts.killAt) : undefined, signal: abort.signal,
      onLine: opts.json ? undefined : (b, l) => { if (/imgforge: (stage|layout|first boot)|Linux version|running '/.test(l.text)) io.err(`[${b} ${l.t.toFixed(1)}s] ${l.text}\n`); },
    });
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
  if (abort.signal.aborted) return 130;
  const verdicts: (Verdict & { boot: string })[] = [];
  const judge = (b: BootRecord, phase: string): void => {
    const report = parseReport(b.lines.map((l) => l.text), phase);
    if (!report) { verdicts.push({ boot: b.name, check: 'report', ok: false, detail: `no complete report (${b.outcome})` }); return; }
    for (const v of judgeReport(ctx, node.profile.layout, report, STAGES, firmware)) verdicts.push({ boot: b.name, ...v });
  };
  const firstDone = result.boots.filter((b) => b.outcome === 'done').at(0);
  const second = result.boots.find((b) => b.name === 'second boot');
  if (firstDone && firstDone.name !== 'second boot') judge(firstDone, 'first-boot');
  if (second) {
    judge(second, 'boot');
    const changed = second.lines.filter((l) => /imgforge: layout: (created|prepared|root grown)/.test(l.text));
    verdicts.push({ boot: second.name, check: 'second boot changes nothing', ok: changed.length === 0 && second.lines.some((l) => /imgforge: layout: unchanged/.test(l.text)),
      detail: changed.length ? changed.map((l) => l.text).join('; ') : 'layout unchanged' });
  }
  const failed = result.boots.find((b) => b.outcome !== 'done' && !(b.outcome === 'killed' && opts.killAt && b.name === 'first boot'));
  if (failed) {
    const stage = failed.lines.map((l) => /imgforge: stage (\S+) failed/.exec(l.text)?.[1]).find(Boolean);
    verdicts.push({ boot: failed.name, check: 'boot', ok: false, detail: `${failed.outcome}${stage ? ` in stage ${stage}` : ''}; last lines:\n${failed.lines.slice(-15).map((l) => `      ${l.text}`).join('\n')}` });
  }
  const ok = verdicts.length > 0 && verdicts.every((v) => v.ok);
  const boots = result.boots.map((b) => ({ name: b.name, outcome: b.outcome, seconds: b.lines.at(-1)?.t ?? 0, timeline: timeline(b.lines) }));
  if (opts.json) {
    io.out(json({ image, node: node.config.hostname, firmware, ok, boots, verdicts, kept: result.workDir }));
  } else {
    for (const b of boots) {
      io.out(`${b.name}: ${b.outcome} after ${b.seconds.toFixed(1)} s\n`);
      for (const e of b.timeline) io.out(`  ${e.t.toFixed(1).padStart(6)} s  ${e.event}\n`);
    }
    for (const v of verdicts) io.out(`${v.ok ? 'pass' : 'FAIL'}  ${v.boot}: ${v.check}: ${v.detail}\n`);
    if (result.workDir) io.out(`kept ${result.workDir}\n`);
    io.out(ok ? `${node.config.hostname}: passed\n` : `${node.config.hostname}: failed\n`);
  }
  return ok ? 0 : 1;
}
