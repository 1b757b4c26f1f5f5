import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { createEnvironment } from '../render/environment.ts';
import type { TemplateSet } from '../render/templates.ts';
import { seedContext } from './context.ts';
import { planLayout, type LayoutPlan } from './layout.ts';
import { renderSeed, sha256, STAGES, type SeedFile } from './seed.ts';
import { selectNodes } from './targets.ts';

export interface NodePlan {
  readonly hostname: string;
  readonly role: string;
  readonly etcdMember: boolean;
  readonly board: string;
  readonly arch: string;
  readonly base: ResolvedNode['profile']['base'];
  readonly boot: ResolvedNode['profile']['boot'];
  readonly disk: { readonly device: string; readonly media: string; readonly sizeBytes: number | null };
  readonly layout: LayoutPlan;
  readonly tuning: ResolvedNode['profile']['tuning'];
  readonly seed: {
    readonly instanceId: string;
    readonly files: readonly { readonly name: string; readonly bytes: number; readonly sha256: string }[];
  };
  readonly firstBoot: readonly { readonly stage: string; readonly phase: string; readonly frequency: string }[];
}

/** The whole resolved plan: printable as JSON, stable key order, computed without touching a disk. */
export interface Plan {
  readonly imgforge: string;
  readonly cluster: string;
  readonly kubernetesVersion: string;
  readonly targets: readonly string[];
  readonly nodes: readonly NodePlan[];
}

export interface PlanResult {
  readonly plan: Plan;
  /** Seed file contents by hostname, for `render` and the image build. */
  readonly seeds: ReadonlyMap<string, readonly SeedFile[]>;
}

/** Pure: the same cluster, templates and version give the same plan, byte for byte. */
export function planCluster(cluster: Cluster, targets: readonly string[], templates: TemplateSet, version: string): PlanResult {
  const env = createEnvironment(templates);
  const seeds = new Map<string, readonly SeedFile[]>();
  const nodes = selectNodes(cluster, targets).map((n): NodePlan => {
    const files = renderSeed(env, seedContext(cluster, n));
    seeds.set(n.config.hostname, files);
    const meta = files.find((f) => f.name === 'meta-data')!.content;
    const p = n.profile;
    return {
      hostname: n.config.hostname,
      role: n.config.role,
      etcdMember: seedContext(cluster, n).node.etcdMember,
      board: n.config.board,
      arch: p.arch,
      base: p.base,
      boot: p.boot,
      disk: { device: n.config.disk?.device ?? p.disk.device, media: p.disk.media, sizeBytes: n.diskSize ?? null },
      layout: planLayout(p.layout, n.diskSize ?? null),
      tuning: p.tuning,
      seed: {
        instanceId: /instance-id: "?([^"\n]+)"?/.exec(meta)![1]!,
        files: files.map((f) => ({ name: f.name, bytes: Buffer.byteLength(f.content), sha256: sha256(f.content) })),
      },
      firstBoot: STAGES.map((s) => ({ stage: s.name, phase: s.phase, frequency: s.frequency })),
    };
  });
  return {
    plan: { imgforge: version, cluster: cluster.config.cluster.name, kubernetesVersion: cluster.config.cluster.kubernetesVersion, targets: [...targets], nodes },
    seeds,
  };
}
