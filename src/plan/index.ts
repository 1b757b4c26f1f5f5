import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import { createEnvironment } from '../render/environment.ts';
import type { RuntimeSet } from '../render/runtime.ts';
import type { TemplateSet } from '../render/templates.ts';
import { caCertHash } from '../secrets/ca-hash.ts';
import type { SecretsBundle } from '../secrets/schema.ts';
import { secretFiles } from '../secrets/scope.ts';
import { assemblySecretFiles, assemblyTreeFiles } from './assembly-files.ts';
import { nodeTree, packBundle, packSecrets, SECRETS_NAME, type Bundle, type SecretsPack } from './bundle.ts';
import { seedContext } from './context.ts';
import type { BaseLayout } from '../image/probe.ts';
import { describeImage, planImage, type ImagePlan, type ImageTable } from './image.ts';
import { planLayout, type LayoutPlan } from './layout.ts';
import { nodeDoc } from './node-doc.ts';
import { renderSeed, sha256, type BundleSource, type SeedFile } from './seed.ts';
import { planStages, type StagePlan } from './stages.ts';
import { assemblyOf } from './assembly.ts';
import type { PackageSources } from './packages.ts';
import type { NodeDoc } from '../protocol/node-doc.ts';
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
  /** The first-boot stage graph, in an order that respects every requirement. */
  readonly stages: readonly StagePlan[];
  /**
   * The partition table the build writes, when the base was read (in the cache, or --base): the
   * same function of the same facts as the build's. Null until the base has been fetched.
   */
  readonly image: { readonly base: { readonly source: string; readonly sha256: string; readonly verified: boolean }; readonly table: ImageTable } | null;
  /** The node's secrets (paths only), packed apart and pinned by the bundle; null when it gets none or none exist yet. */
  readonly secrets: { readonly sha256: string; readonly bytes: number; readonly files: readonly string[] } | null;
  /** The node bundle the seed pins: every file the node receives but its secrets. */
  readonly bundle: { readonly sha256: string; readonly bytes: number; readonly files: number; readonly sources: readonly BundleSource[] };
  readonly seed: {
    readonly instanceId: string;
    readonly files: readonly { readonly name: string; readonly bytes: number; readonly sha256: string }[];
  };
}

/** The whole resolved plan: printable as JSON, stable key order, computed without touching a disk. */
export interface Plan {
  readonly imgforge: string;
  readonly cluster: string;
  readonly kubernetesVersion: string;
  readonly targets: readonly string[];
  /**
   * The add-ons the config names and whether the nodes install them: the Gateway API CRDs are
   * applied by the leader; the others are checked (and their kernel modules loaded) but installed
   * by hand for now.
   */
  readonly addons: readonly { readonly name: string; readonly installedByNodes: boolean }[];
  readonly nodes: readonly NodePlan[];
}

/** What planning reads besides the config, all read before it starts: planning itself does no I/O. */
export interface PlanInputs {
  readonly templates: TemplateSet;
  readonly runtime: RuntimeSet;
  readonly version: string;
  /** Where nodes fetch their bundle, in order; default the seed's own CIDATA file system. */
  readonly bundleSources?: readonly BundleSource[];
  /** What was read of each node's base, by hostname: its image is planned when present. */
  readonly bases?: ReadonlyMap<string, BaseFacts>;
  /** The target disk's size when the image is to carry the final table (build --disk-size); null for a compact image. */
  readonly diskBytes?: number | null;
  /** Keep each node's seed files and bundle in the result (render and build need them; a plan of many nodes does not). @default true */
  readonly keepFiles?: boolean;
  /** The cluster's secrets, each node getting its share (secrets/scope.ts); absent before `imgforge secrets init`. */
  readonly secrets?: SecretsBundle | undefined;
  /** Where nodes install their packages from (data/packages.yaml). */
  readonly packages: PackageSources;
}

/** A base as read: where it is, what it is, its partitions, and the sizes of the profile's boot blobs. */
export interface BaseFacts {
  readonly path: string;
  readonly source: string;
  readonly sha256: string;
  readonly verified: boolean;
  readonly layout: BaseLayout;
  readonly blobBytes: readonly number[];
}

export interface PlanResult {
  readonly plan: Plan;
  /** Seed files by hostname (the bundle among them), for `render` and the image build. */
  readonly seeds: ReadonlyMap<string, readonly SeedFile[]>;
  readonly bundles: ReadonlyMap<string, Bundle>;
  /** Each node's secrets, packed apart from its bundle. */
  readonly secrets: ReadonlyMap<string, SecretsPack>;
  /** The image each node's build writes, when its base was read. */
  readonly images: ReadonlyMap<string, ImagePlan>;
}

/**
 * A script as user-data carries it: without its comment lines, which runtime/ keeps for readers
 * and which would otherwise ship to every node and be parsed by every plan.
 */
export function seedScript(text: string): string {
  return text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
}

/** A node's part in assembling the cluster and its stage graph. Pure. */
export function nodeStages(cluster: Cluster, n: ResolvedNode, packages: PackageSources): { assembly: NodeDoc['assembly']; stages: StagePlan[] } {
  const assembly = assemblyOf(cluster, n, packages);
  const workerEtcdMember = n.config.role === 'worker' && n.config.etcd && cluster.config.cluster.etcd.topology === 'stacked';
  return { assembly, stages: planStages({ layout: n.profile.layout, assembly, workerEtcdMember }) };
}

/** Pure: the same cluster and inputs give the same plan, byte for byte. */
export async function planCluster(cluster: Cluster, targets: readonly string[], inputs: PlanInputs): Promise<PlanResult> {
  const env = createEnvironment(inputs.templates);
  const bootstrap = seedScript(inputs.runtime.get('bootstrap.sh')!);
  const sources = inputs.bundleSources ?? ['cidata'];
  const seeds = new Map<string, readonly SeedFile[]>();
  const bundles = new Map<string, Bundle>();
  const packs = new Map<string, SecretsPack>();
  const images = new Map<string, ImagePlan>();
  const caCertHashValue = inputs.secrets ? caCertHash(inputs.secrets.cas.cluster.cert) : null;
  const nodes: NodePlan[] = [];
  for (const n of selectNodes(cluster, targets)) {
    const ctx = seedContext(cluster, n);
    const p = n.profile;
    const { assembly, stages } = nodeStages(cluster, n, inputs.packages);
    const pack = inputs.secrets ? await packSecrets([...secretFiles(inputs.secrets, cluster, n), ...assemblySecretFiles(env, cluster, n, inputs.secrets, assembly)]) : null;
    const doc = nodeDoc(ctx, p.layout, stages, caCertHashValue ? {
      caCertHash: caCertHashValue, packed: pack ? { sha256: pack.sha256, bytes: pack.tar.length, files: pack.files.map((f) => f.path) } : null,
    } : null, assembly);
    const bundle = await packBundle(inputs.runtime, nodeTree(env, inputs.runtime, ctx, doc, stages, pack, assemblyTreeFiles(env, cluster, n, assembly)));
    const files = [...renderSeed(env, ctx, bootstrap, bundle, sources), ...(pack ? [{ name: SECRETS_NAME, content: pack.tar } as const] : [])];
    if (pack && inputs.keepFiles !== false) packs.set(n.config.hostname, pack);
    if (inputs.keepFiles !== false) {
      seeds.set(n.config.hostname, files);
      bundles.set(n.config.hostname, bundle);
    }
    const meta = files.find((f) => f.name === 'meta-data')!.content as string;
    const base = inputs.bases?.get(n.config.hostname);
    const image = base ? planImage({ cluster: cluster.config.cluster.name, node: n.config.hostname, basePath: base.path, base: base.layout, profile: p,
      diskBytes: inputs.diskBytes ?? null, blobBytes: base.blobBytes }) : undefined;
    if (image) images.set(n.config.hostname, image);
    nodes.push({
      hostname: n.config.hostname,
      role: n.config.role,
      etcdMember: ctx.node.etcdMember,
      board: n.config.board,
      arch: p.arch,
      base: p.base,
      boot: p.boot,
      disk: { device: n.config.disk?.device ?? p.disk.device, media: p.disk.media, sizeBytes: n.diskSize ?? null },
      layout: planLayout(p.layout, n.diskSize ?? null),
      tuning: p.tuning,
      stages,
      image: image && base ? { base: { source: base.source, sha256: base.sha256, verified: base.verified }, table: describeImage(image) } : null,
      bundle: { sha256: bundle.sha256, bytes: bundle.tar.length, files: bundle.files.length, sources },
      secrets: pack ? { sha256: pack.sha256, bytes: pack.tar.length, files: pack.files.map((f) => f.path) } : null,
      seed: {
        instanceId: /instance-id: "?([^"\n]+)"?/.exec(meta)![1]!,
        files: files.map((f) => ({ name: f.name, bytes: Buffer.byteLength(f.content), sha256: f.content === bundle.tar ? bundle.sha256 : f.content === pack?.tar ? pack.sha256 : sha256(f.content) })),
      },
    });
  }
  return {
    plan: {
      imgforge: inputs.version, cluster: cluster.config.cluster.name, kubernetesVersion: cluster.config.cluster.kubernetesVersion, targets: [...targets],
      addons: Object.entries(cluster.config.cluster.addons).filter(([, v]) => v !== undefined)
        .map(([name]) => ({ name, installedByNodes: name === 'gatewayApi' && cluster.config.cluster.selfAssembly })),
      nodes,
    },
    seeds, bundles, secrets: packs, images,
  };
}
