import { imgforgeError } from '../../errors/error.ts';
import { writeDirAtomic } from '../../execute/write-dir.ts';
import { json, type Io } from '../output.ts';
import { loadAndCheck, loadPlan, type GlobalOptions } from '../context.ts';

/** imgforge render <node> --out <dir>: the node's NoCloud seed files. */
export async function renderCommand(node: string, opts: GlobalOptions & { out: string; force: boolean }, io: Io): Promise<number> {
  const { cluster, report } = await loadAndCheck(opts);
  if (!cluster.nodes.some((n) => n.config.hostname === node)) {
    throw imgforgeError('UnknownNode', { node, known: cluster.nodes.map((n) => n.config.hostname).join(', ') });
  }
  if (!report.ok && !opts.force) throw imgforgeError('Findings', { errors: report.errors });
  const { plan, seeds } = await loadPlan(cluster, [node]);
  const files = seeds.get(node)!;
  const nodePlan = plan.nodes[0]!;
  await writeDirAtomic(opts.out, files.map((f) => ({ name: f.name, content: f.content })), `seed ${nodePlan.seed.instanceId}\n`);
  if (opts.json) io.out(json({ node, out: opts.out, instanceId: nodePlan.seed.instanceId, files: nodePlan.seed.files }));
  else io.out(`wrote ${files.map((f) => f.name).join(', ')} for ${node} to ${opts.out}\n`);
  return 0;
}
