import { findingsError } from '../../check/index.ts';
import { imgforgeError } from '../../errors/error.ts';
import { writeDirAtomic } from '../../execute/write-dir.ts';
import { expiredTokens, secretsFor } from '../../secrets/ensure.ts';
import type { BundleSource } from '../../plan/seed.ts';
import { json, type Io } from '../output.ts';
import { loadAndCheck, loadPlan, type GlobalOptions } from '../context.ts';

/** imgforge render <node> --out <dir>: the node's NoCloud seed files. */
export async function renderCommand(node: string, opts: GlobalOptions & { out: string; force: boolean; bundleUrl?: string }, io: Io): Promise<number> {
  const { cluster, report } = await loadAndCheck(opts);
  if (!cluster.nodes.some((n) => n.config.hostname === node)) {
    throw imgforgeError('UnknownNode', { node, known: cluster.nodes.map((n) => n.config.hostname).join(', ') });
  }
  if (!report.ok && !opts.force) throw findingsError(report);
  const secrets = await secretsFor(cluster, { create: true, say: opts.json ? undefined : io.err });
  const target = cluster.nodes.filter((n) => n.config.hostname === node);
  if (secrets) for (const w of expiredTokens(secrets, target, Date.now())) io.err(`warning: ${w}\n`);
  const { plan, seeds, bundles, secrets: packs } = await loadPlan(cluster, [node], { secrets, ...(opts.bundleUrl ? { bundleSources: [opts.bundleUrl as BundleSource] } : {}) });
  const files = seeds.get(node)!;
  const nodePlan = plan.nodes[0]!;
  // tree/: every file the node receives, at its path on the node, so a user can read exactly what it gets.
  const tree = [...bundles.get(node)!.files, ...(packs.get(node)?.files ?? [])].map((f) => ({ name: `tree${f.path}`, content: f.content, mode: f.mode, symlink: f.symlink }));
  await writeDirAtomic(opts.out, [...files.map((f) => ({ name: f.name, content: f.content })), ...tree], `seed ${nodePlan.seed.instanceId}\n`);
  if (opts.json) io.out(json({ node, out: opts.out, instanceId: nodePlan.seed.instanceId, files: nodePlan.seed.files, bundle: nodePlan.bundle }));
  else io.out(`wrote ${files.map((f) => f.name).join(', ')} and tree/ (${tree.length} files) for ${node} to ${opts.out}\n`);
  return 0;
}
