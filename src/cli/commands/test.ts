import { existsSync, readFileSync } from 'node:fs';
import { imgforgeError } from '../../errors/error.ts';
import { defaultCacheDir } from '../../base/cache.ts';
import { buildAll } from '../../execute/build-all.ts';
import { runVmTest, timeline } from '../../execute/vm-test.ts';
import { probeBase } from '../../image/probe.ts';
import { seedContext } from '../../plan/context.ts';
import { judgeBoots } from '../../plan/judge-boots.ts';
import { secretsFor } from '../../secrets/ensure.ts';
import { secretFiles } from '../../secrets/scope.ts';
import { nodeStages } from '../../plan/index.ts';
import { loadPackageSources } from '../../plan/packages.ts';
import { planVmTest } from '../../plan/vm-test.ts';
import { describeMachine } from '../../plan/vm-machine.ts';
import { kvmUsable } from '../../tools/qemu.ts';
import { freePort, sshRun } from '../../tools/ssh.ts';
import { parseBytes } from '../../util/size.ts';
import { json, type Io } from '../output.ts';
import { loadAndCheck, planInputs, sourceDateEpoch, VERSION, type GlobalOptions } from '../context.ts';

export interface TestFlags {
  readonly diskSize: string;
  readonly timeout: string;
  readonly keep: boolean;
  readonly killAt?: string;
  readonly plantStale: boolean;
  readonly plantOsd: boolean;
  readonly sshKey?: string;
  readonly firmware?: 'uefi' | 'bios';
  readonly accel: 'auto' | 'kvm' | 'tcg';
  readonly memory: string;
  readonly cpus: string;
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

/**
 * An OSD as Rook leaves it (BlueStore's label starts "bluestore block device", which libblkid
 * reports as ceph_bluestore), then /var/lib/imgforge gone: the next boot must not wipe the OSD.
 */
const plantOsdScript = (partition: string): string => `set -eu
dev=$(readlink -f /dev/disk/by-partlabel/${partition})
{ printf 'bluestore block device\\n%s\\n' "$(cat /proc/sys/kernel/random/uuid)"; head -c 4000 /dev/zero; } | sudo dd of="$dev" bs=4096 count=1 conv=sync,fsync status=none
sudo rm -rf /var/lib/imgforge
sudo sync`;

const number = (flag: string, text: string): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw imgforgeError('BadFlag', { detail: `${flag} takes a whole number, not "${text}"` });
  return n;
};

/** imgforge test <image|node>: boot it under QEMU and judge what the node reports against its plan. */
export async function testCommand(target: string, opts: GlobalOptions & TestFlags, io: Io): Promise<number> {
  const diskBytes = parseBytes(opts.diskSize);
  if (diskBytes === undefined) throw imgforgeError('BadFlag', { detail: `--disk-size takes a size such as 16GiB, not "${opts.diskSize}"` });
  const req = {
    diskBytes, timeoutSeconds: number('--timeout', opts.timeout), firmware: opts.firmware, accel: opts.accel, killAt: opts.killAt,
    plantStale: opts.plantStale, plantOsd: opts.plantOsd, sshKey: opts.sshKey, memoryMiB: number('--memory', opts.memory), cpus: number('--cpus', opts.cpus),
  };
  const { cluster } = await loadAndCheck(opts);
  let image = target;
  if (!existsSync(target)) {
    // A compact image (no --disk-size), so the first boot's layout stage does the partitioning.
    const [built] = await buildAll(cluster, [target], {
      out: opts.out, cacheDir: opts.cacheDir ?? defaultCacheDir(), base: opts.base, allowUnverified: false, epoch: sourceDateEpoch(),
      version: VERSION, diskBytes: null, inputs: await planInputs(), say: opts.json ? undefined : io.err, progressBar: false,
    });
    image = built!.image;
  }
  const manifestFile = image.replace(/\.img$/, '.manifest.json');
  if (!existsSync(manifestFile)) throw imgforgeError('ReadFailed', { path: manifestFile, detail: 'no manifest next to the image; build it with imgforge build' });
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { node: string };
  const node = cluster.nodes.find((n) => n.config.hostname === manifest.node);
  if (!node) throw imgforgeError('UnknownNode', { node: manifest.node, known: cluster.nodes.map((n) => n.config.hostname).join(', ') });
  const layout = probeBase(image);
  const sshUser = cluster.config.users[0]?.name;
  const plan = planVmTest(node, req, { kvm: kvmUsable(node.profile.arch) }, { sizeBytes: layout.sizeBytes, rootFirstLba: layout.partitions.at(-1)!.firstLba }, sshUser);
  if (!opts.json) for (const line of describeMachine(node.config.hostname, plan.machine)) io.out(`${line}\n`);
  const sshPort = plan.plantOsd ? await freePort() : undefined;
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  let result;
  try {
    result = await runVmTest({
      image, arch: node.profile.arch, machine: plan.machine, diskBytes: plan.diskBytes, mac: node.config.mac ?? null, timeoutMs: plan.timeoutMs,
      kvm: plan.kvm, keep: opts.keep, memoryMiB: plan.memoryMiB, cpus: plan.cpus, killAt: plan.killAt, signal: abort.signal, sshPort,
      plant: plan.plantStale ? { offsetBytes: plan.plantStale.offsetBytes, data: staleSignature() } : undefined,
      afterFirstBoot: plan.plantOsd ? async () => { await sshRun({ host: '127.0.0.1', port: sshPort!, user: plan.plantOsd!.user, key: opts.sshKey! }, plantOsdScript(plan.plantOsd!.partition)); } : undefined,
      onLine: opts.json ? undefined : (b, l) => { if (/Linux version|running '/.test(l.text)) io.err(`[${b} ${l.t.toFixed(1)}s] ${l.text}\n`); },
      onEvent: opts.json ? undefined : (b, e) => { if (e.event.stage !== 'report') io.err(`[${b} ${e.t.toFixed(1)}s] ${e.event.stage} ${e.event.state}${e.event.msg ? `: ${e.event.msg}` : ''}\n`); },
    });
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
  if (abort.signal.aborted) return 130;
  const { stages } = nodeStages(cluster, node, await loadPackageSources());
  const bundle = await secretsFor(cluster, { create: false });
  const verdicts = judgeBoots(seedContext(cluster, node), node.profile.layout, stages, plan, result.boots.map((b) => ({
    name: b.name, outcome: b.outcome, events: b.events.map((e) => e.event), lastLines: b.lines.slice(-15).map((l) => l.text), hookError: b.hookError,
  })), bundle ? secretFiles(bundle, cluster, node) : []);
  const ok = verdicts.length > 0 && verdicts.every((v) => v.ok);
  const boots = result.boots.map((b) => ({ name: b.name, outcome: b.outcome, seconds: Math.max(b.lines.at(-1)?.t ?? 0, b.events.at(-1)?.t ?? 0), timeline: timeline(b.lines, b.events), rejected: b.rejected }));
  if (opts.json) {
    io.out(json({ image, node: node.config.hostname, firmware: plan.firmware, machine: plan.machine, ok, boots, verdicts, kept: result.workDir }));
    return ok ? 0 : 1;
  }
  for (const b of boots) {
    io.out(`${b.name}: ${b.outcome} after ${b.seconds.toFixed(1)} s\n`);
    for (const e of b.timeline) io.out(`  ${e.t.toFixed(1).padStart(6)} s  ${e.event}\n`);
    for (const r of b.rejected) io.out(`  (not an event: ${r})\n`);
  }
  for (const v of verdicts) io.out(`${v.ok ? 'pass' : 'FAIL'}  ${v.boot}: ${v.check}: ${v.detail}\n`);
  if (result.workDir) io.out(`kept ${result.workDir}\n`);
  io.out(ok ? `${node.config.hostname}: passed\n` : `${node.config.hostname}: failed\n`);
  return ok ? 0 : 1;
}
