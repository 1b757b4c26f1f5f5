import { loadCluster } from '../../src/config/index.ts';
import { planInputs } from '../../src/cli/context.ts';
import { nodeTree, packBundle } from '../../src/plan/bundle.ts';
import { seedContext } from '../../src/plan/context.ts';
import { nodeDoc } from '../../src/plan/node-doc.ts';
import { nodeStages } from '../../src/plan/index.ts';
import { createEnvironment } from '../../src/render/environment.ts';

/**
 * What the node bundle adds to a build: rendering the node's tree and packing it, per node, 40
 * times over the given nodes. The first is not counted: it also packs the runtime every bundle
 * shares, once per process, as in a build of several nodes.
 */
export async function bundleTime(config: string, nodes: readonly string[]): Promise<{ ms: number[]; bytes: number }> {
  const cluster = await loadCluster(config);
  const inputs = await planInputs();
  const env = createEnvironment(inputs.templates);
  const ms: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 41; i++) {
    const n = cluster.nodes.find((x) => x.config.hostname === nodes[i % nodes.length])!;
    const t = performance.now();
    const ctx = seedContext(cluster, n);
    const { assembly, stages } = nodeStages(cluster, n, inputs.packages);
    const b = await packBundle(inputs.runtime, nodeTree(env, inputs.runtime, ctx, nodeDoc(ctx, n.profile.layout, stages, null, assembly), stages));
    if (i > 0) ms.push(performance.now() - t);
    bytes = b.tar.length;
  }
  return { ms, bytes };
}
