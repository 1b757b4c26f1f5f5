import type { Layout } from '../config/schema/layout.ts';
import { imgforgeError } from '../errors/error.ts';
import { NODE_DOC_VERSION, NodeDoc } from '../protocol/node-doc.ts';
import type { Amount } from '../util/size.ts';
import type { SeedContext } from './context.ts';
import { ALIGN_BYTES } from './layout.ts';
import type { StagePlan } from './stages.ts';

const SECTOR_BYTES = 512;

/** A size as the layout stage's integer arithmetic takes it: aligned sectors, or hundredths of a percent. */
export function stageSize(a: Amount): NodeDoc['layout']['root']['size'] {
  if (a.kind === 'rest') return { kind: 'rest', value: 0 };
  if (a.kind === 'percent') return { kind: 'basisPoints', value: Math.round(a.percent * 100) };
  return { kind: 'sectors', value: Math.floor(a.bytes / ALIGN_BYTES) * (ALIGN_BYTES / SECTOR_BYTES) };
}

/**
 * The node's /etc/imgforge/node.json, checked against its schema here so that a document the
 * node would refuse fails the plan instead.
 */
export function nodeDoc(ctx: SeedContext, layout: Layout, stages: readonly StagePlan[], secrets: { caCertHash: string; packed: NodeDoc['secrets'] } | null = null,
  assembly: NodeDoc['assembly'] = null): NodeDoc {
  const doc: NodeDoc = {
    schema: NODE_DOC_VERSION,
    node: {
      hostname: ctx.node.hostname,
      role: ctx.node.role as NodeDoc['node']['role'],
      etcdMember: ctx.node.etcdMember,
      board: ctx.node.board,
      address: ctx.node.address,
      lanInterface: ctx.network.iface,
    },
    cluster: {
      name: ctx.cluster.name,
      kubernetesVersion: ctx.cluster.kubernetesVersion,
      endpoint: { host: ctx.cluster.dnsName ?? ctx.cluster.vip, port: ctx.cluster.port },
      caCertHash: secrets?.caCertHash ?? null,
    },
    secrets: secrets?.packed ?? null,
    users: ctx.users.map((u) => u.name),
    layout: {
      root: { size: stageSize(layout.root.size) },
      reserved: layout.reserved.map((r) => ({ name: r.name, size: stageSize(r.size), format: r.format, mountpoint: r.mountpoint ?? '' })),
    },
    kernel: {
      requiredModules: [...ctx.requiredModules],
      optionalModules: ctx.modules.filter((m) => !ctx.requiredModules.includes(m)),
      sysctls: ctx.sysctls.map(([key, value]) => ({ key, value })),
    },
    tuning: { noatime: ctx.tuning.noatime, fstrim: ctx.tuning.fstrim, disableUnits: [...ctx.tuning.disableUnits] },
    assembly,
    stages: stages.map((s) => ({
      name: s.name, timeoutSeconds: s.timeoutSeconds, attempts: s.retry.attempts,
      delaySeconds: s.retry.delaySeconds, maxDelaySeconds: s.retry.maxDelaySeconds, destructive: s.destructive, assembly: s.assembly === true,
    })),
  };
  const checked = NodeDoc.safeParse(doc);
  if (!checked.success) {
    const detail = checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw imgforgeError('RenderedInvalid', { node: ctx.node.hostname, file: 'node.json', detail });
  }
  return checked.data;
}
