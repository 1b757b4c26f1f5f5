import { imgforgeError } from '../../errors/error.ts';
import { formatBytes } from '../../util/size.ts';
import { json, type Io } from '../output.ts';
import { loadAndCheck, loadPlan, type GlobalOptions } from '../context.ts';

/** imgforge plan: the resolved plan for the targets, touching no disk. */
export async function planCommand(targets: string[], opts: GlobalOptions & { force: boolean }, io: Io): Promise<number> {
  const { cluster, report } = await loadAndCheck(opts);
  if (!report.ok && !opts.force) throw imgforgeError('Findings', { errors: report.errors });
  const { plan } = await loadPlan(cluster, targets);
  if (opts.json) {
    io.out(json(plan));
    return 0;
  }
  io.out(`cluster ${plan.cluster}, Kubernetes ${plan.kubernetesVersion}, imgforge ${plan.imgforge}\n`);
  for (const n of plan.nodes) {
    const layout = n.layout.partitions.map((p) => `${p.name} ${p.bytes !== null ? formatBytes(p.bytes) : p.size}${p.format === 'raw' && p.role === 'reserved' ? ' raw' : ''}`).join(', ');
    io.out(`${n.hostname.padEnd(12)} ${n.role}${n.etcdMember && n.role === 'worker' ? '+etcd' : ''} on ${n.board} (${n.arch}) -> ${n.disk.device} [${layout}] seed ${n.seed.instanceId}\n`);
  }
  return 0;
}
