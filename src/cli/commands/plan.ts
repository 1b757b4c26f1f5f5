import { findingsError } from '../../check/index.ts';
import { findBase } from '../../base/find.ts';
import { defaultCacheDir } from '../../base/cache.ts';
import { imgforgeError } from '../../errors/error.ts';
import { readBlobs } from '../../base/blobs.ts';
import { probeBase } from '../../image/probe.ts';
import { chooseBase } from '../../plan/base.ts';
import type { BaseFacts } from '../../plan/index.ts';
import { selectNodes } from '../../plan/targets.ts';
import { secretsFor } from '../../secrets/ensure.ts';
import { formatBytes, parseBytes } from '../../util/size.ts';
import { json, type Io } from '../output.ts';
import { loadAndCheck, loadPlan, planInputs, type GlobalOptions } from '../context.ts';

export interface PlanFlags {
  readonly force: boolean;
  readonly base?: string;
  readonly cacheDir?: string;
  readonly diskSize?: string;
}

/**
 * imgforge plan: the resolved plan for the targets. It reads, but never fetches or writes: a
 * base already in the cache (or --base) is probed, and the plan then holds the partition table
 * `imgforge build` writes from it.
 */
export async function planCommand(targets: string[], opts: GlobalOptions & PlanFlags, io: Io): Promise<number> {
  const diskBytes = opts.diskSize === undefined ? null : parseBytes(opts.diskSize);
  if (diskBytes === undefined) throw imgforgeError('BadFlag', { detail: `--disk-size takes a size such as 1TB or 64GiB, not "${opts.diskSize}"` });
  const { cluster, report } = await loadAndCheck(opts);
  if (!report.ok && !opts.force) throw findingsError(report);
  const inputs = await planInputs();
  const bases = new Map<string, BaseFacts>();
  for (const node of selectNodes(cluster, targets)) {
    const found = await findBase(chooseBase(node, opts.base), { cacheDir: opts.cacheDir ?? defaultCacheDir(), templates: inputs.templates });
    if (!found) continue;
    const blobs = await readBlobs(cluster, node);
    bases.set(node.config.hostname, { ...found, path: found.raw, layout: probeBase(found.raw), blobBytes: blobs.map((b) => b.data.length) });
  }
  const secrets = await secretsFor(cluster, { create: false });
  const { plan } = await loadPlan(cluster, targets, { bases, diskBytes, keepFiles: false, secrets });
  if (opts.json) {
    io.out(json(plan));
    return 0;
  }
  io.out(`cluster ${plan.cluster}, Kubernetes ${plan.kubernetesVersion}, imgforge ${plan.imgforge} (stage! can destroy data: --json tells what keeps it safe)\n`);
  const byHand = plan.addons.filter((a) => !a.installedByNodes).map((a) => a.name);
  if (byHand.length > 0) io.out(`add-ons checked but not installed by the nodes yet (install them once the cluster is up): ${byHand.join(', ')}\n`);
  for (const n of plan.nodes) {
    const layout = n.layout.partitions.map((p) => `${p.name} ${p.bytes !== null ? formatBytes(p.bytes) : p.size}${p.format === 'raw' && p.role === 'reserved' ? ' raw' : ''}`).join(', ');
    io.out(`${n.hostname.padEnd(12)} ${n.role}${n.etcdMember && n.role === 'worker' ? '+etcd' : ''} on ${n.board} (${n.arch}) -> ${n.disk.device} [${layout}] seed ${n.seed.instanceId}\n`);
    // The stage graph, each stage with what it waits for.
    const stages = n.stages.map((s) => {
      const after = [...s.requires, ...s.after.filter((a) => !s.requires.includes(a))];
      return `${s.name}${s.destructive ? '!' : ''}${after.length ? ` (after ${after.join(', ')})` : ''}`;
    });
    io.out(`${''.padEnd(12)} stages: ${stages.join(', ')}; bundle ${n.bundle.sha256.slice(0, 12)} (${n.bundle.files} files)\n`);
    io.out(`${''.padEnd(12)} secrets: ${!secrets ? 'not made yet (build or render makes them, and the digests above change)' : n.secrets ? n.secrets.files.map((f) => f.replace(/^\/etc\/(kubernetes\/pki|imgforge\/secrets)\//, '')).join(' ') : 'none'}\n`);
    if (n.image) {
      io.out(`${''.padEnd(12)} image ${formatBytes(n.image.table.sizeBytes)} from ${n.image.base.source}:\n`);
      for (const p of n.image.table.partitions) io.out(`${''.padEnd(14)}${String(p.number).padStart(3)} ${p.role.padEnd(8)} ${String(p.firstLba).padStart(12)}-${String(p.lastLba).padEnd(12)} ${formatBytes(p.bytes).padStart(10)} ${p.name}\n`);
    } else {
      io.out(`${''.padEnd(12)} image: its base is not in the cache yet (imgforge build fetches it; plan --base <file> reads one)\n`);
    }
  }
  return 0;
}
