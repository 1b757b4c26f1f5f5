/**
 * /etc/imgforge/node.json: everything the first-boot stages know about their node, as one typed
 * document. TypeScript renders it through this schema; the bundle carries the same schema as JSON
 * Schema (draft 7, which python3-jsonschema 3.2 on Ubuntu 20.04 reads), and the node checks the
 * document against it before any stage runs (runtime/usr/local/lib/imgforge/node-env).
 */
import { z } from 'zod';

export const NODE_DOC_VERSION = 1;

const Name = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/);

/** A size as the layout stage's integer arithmetic takes it. */
const StageSize = z.strictObject({
  /** "sectors": whole 512-byte sectors, aligned to 1 MiB; "basisPoints": hundredths of a percent of the disk; "rest": what is left. */
  kind: z.enum(['sectors', 'basisPoints', 'rest']),
  /** Sectors or basis points; 0 for "rest". */
  value: z.number().int().nonnegative(),
});

export const NodeDoc = z.strictObject({
  /** Version of this document's shape; a node refuses one it does not know. */
  schema: z.literal(NODE_DOC_VERSION),
  node: z.strictObject({
    hostname: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/),
    role: z.enum(['control-plane', 'worker', 'etcd']),
    /** Runs an etcd member (every control plane with stacked etcd, and workers given etcd: true). */
    etcdMember: z.boolean(),
    board: z.string().min(1),
    /** Static address with prefix, or null for DHCP. */
    address: z.string().nullable(),
    /** The LAN interface's name on the node (netplan renames it when matched by MAC). */
    lanInterface: Name,
  }),
  cluster: z.strictObject({
    name: z.string().min(1),
    kubernetesVersion: z.string().regex(/^\d+\.\d+\.\d+$/),
    /** Where the API server is reached: the VIP or DNS name, and its port. */
    endpoint: z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }),
    /** What a joining node pins the cluster CA by (kubeadm --discovery-token-ca-cert-hash); null before the secrets exist. */
    caCertHash: z.string().regex(/^sha256:[0-9a-f]{64}$/).nullable(),
  }),
  /**
   * The node's secrets: a tar of their own beside the bundle (imgforge-secrets.tar), installed
   * with it and then removed from the seed's partition. Its digest is pinned here, in the pinned
   * bundle; null when the node gets none.
   */
  secrets: z.strictObject({
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    bytes: z.number().int().positive(),
    /** Where each lands on the node. */
    files: z.array(z.string().regex(/^\/[^\s]+$/)),
  }).nullable(),
  /** Login users (their keys come from cloud-init; the report lists them). */
  users: z.array(z.string().regex(/^[a-z_][a-z0-9_-]*$/)),
  layout: z.strictObject({
    root: z.strictObject({ size: StageSize }),
    reserved: z.array(z.strictObject({
      name: Name,
      size: StageSize,
      format: z.enum(['raw', 'ext4']),
      /** Where an ext4 partition is mounted; "" for raw. Paths with whitespace are refused by the config. */
      mountpoint: z.string().regex(/^(\/[^\s\\]*)?$/),
    })),
  }),
  kernel: z.strictObject({
    /** Modules the node cannot run Kubernetes without: a missing one fails the prepare stage. */
    requiredModules: z.array(z.string().regex(/^[a-z0-9_-]+$/)),
    /** Modules loaded when the kernel has them (add-ons, the board's own); a missing one is a warning. */
    optionalModules: z.array(z.string().regex(/^[a-z0-9_-]+$/)),
    sysctls: z.array(z.strictObject({ key: z.string().regex(/^[a-z0-9_.-]+$/), value: z.string().regex(/^[^\n]*$/) })),
  }),
  tuning: z.strictObject({
    noatime: z.boolean(),
    fstrim: z.boolean(),
    /** Units the board disables and masks. */
    disableUnits: z.array(z.string().regex(/^[A-Za-z0-9@._:-]+$/)),
  }),
  /** The stage graph's runtime policy (the units carry the ordering). */
  stages: z.array(z.strictObject({
    name: Name,
    timeoutSeconds: z.number().int().positive(),
    attempts: z.number().int().positive(),
    delaySeconds: z.number().int().nonnegative(),
    maxDelaySeconds: z.number().int().nonnegative(),
    destructive: z.boolean(),
  })),
});
export type NodeDoc = z.output<typeof NodeDoc>;

let schemaText: string | undefined;

/** The JSON Schema the node validates node.json against (the same for every node: made once). */
export function nodeDocJsonSchema(): string {
  schemaText ??= `${JSON.stringify({ ...z.toJSONSchema(NodeDoc, { target: 'draft-7' }), title: 'imgforge node document' }, null, 2)}\n`;
  return schemaText;
}
