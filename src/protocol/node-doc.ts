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

const Url = z.string().regex(/^https?:\/\/[^\s'"]+$/);
const Fingerprint = z.string().regex(/^[0-9A-F]{40}$/);
const Ip = z.string().regex(/^[0-9a-f.:]+$/);
const Package = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/);

/** An apt repository whose signing key the node accepts only with the pinned fingerprint. */
const AptRepo = z.strictObject({
  url: Url,
  /** "/" for a flat repository (pkgs.k8s.io), else the suite; "{codename}" is the base's VERSION_CODENAME. */
  suite: z.string().regex(/^[a-z0-9/{}.-]+$/),
  component: z.string().regex(/^[a-z0-9-]*$/),
  key: Url,
  fingerprint: Fingerprint,
});

const Assembly = z.strictObject({
  /** The control plane that runs kubeadm init. */
  leader: Name,
  /** This node's part: "init" (the leader), "control-plane" (joins with its own API server), "worker". */
  part: z.enum(['init', 'control-plane', 'worker', 'etcd']),
  /** The control plane joined just before this one: it waits until that one is a healthy etcd voter. Null when it waits for the API alone. */
  after: z.strictObject({ hostname: Name, address: Ip.nullable() }).nullable(),
  /** Every node that joins Kubernetes, in config order: what imgforge-status counts as joined or not yet. */
  nodes: z.array(Name),
  /** The control planes among them: one has joined only when kubeadm has marked its Node (the last phase of its join), not when it registered. */
  controlPlanes: z.array(Name),
  /** etcd client URLs of the members with static addresses, for the waits and the worker's member. */
  etcdEndpoints: z.array(Url),
  /** The API server's own port on a control plane. */
  apiServerPort: z.number().int().min(1).max(65535),
  /** The VIP this control plane helps hold (keepalived, with HAProxy when it balances, or kube-vip); null on a worker. */
  vip: z.strictObject({
    provider: z.enum(['keepalived', 'keepalived+haproxy', 'kube-vip']),
    /** kube-vip's image (with an image mirror's registry); null with keepalived. */
    image: z.string().regex(/^[a-z0-9./:-]+$/).nullable(),
    address: Ip,
    /** VRRP priority: the leader's is the highest, so it holds the VIP from before init. */
    priority: z.number().int().min(1).max(254),
    /** The port the health check asks /healthz on: the API server's, or HAProxy's. */
    checkPort: z.number().int().min(1).max(65535),
  }).nullable(),
  /** An external etcd node's etcd: the release archive and its SHA-256, or the base archive's package (url null). */
  etcd: z.strictObject({
    version: z.string().regex(/^\d+\.\d+\.\d+$/).nullable(),
    url: Url.nullable(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
    /** The members of a new cluster, as etcd's --initial-cluster takes them. */
    initialCluster: z.string().regex(/^[a-z0-9-]+=https:\/\/[^,\s]+(,[a-z0-9-]+=https:\/\/[^,\s]+)*$/),
  }).nullable(),
  /** The pod network and Gateway API CRDs the leader applies once the API answers; null on every other node. */
  cni: z.strictObject({
    plugin: z.enum(['cilium', 'calico']),
    /** The plugin's release, or null for the Cilium CLI's own default. */
    version: z.string().regex(/^\d+\.\d+\.\d+$/).nullable(),
    podCidr: z.string().regex(/^[0-9a-f.:]+\/\d+$/),
    kubeProxyReplacement: z.boolean(),
    /** Where the CNI's agents reach the API before any Service works: the VIP (an address, not a name: no cluster DNS yet) and the endpoint's port. */
    apiServer: z.strictObject({ host: Ip, port: z.number().int().min(1).max(65535) }),
    /** The installer: the Cilium CLI or Helm, a release archive and its SHA-256. */
    tool: z.strictObject({ name: z.enum(['cilium', 'helm']), url: Url, sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
    /** The plugin's Helm repository. */
    repository: Url,
    /**
     * The downloads mirror (`cluster.mirrors.downloads`), or null: a chart archive the repository's
     * index names by an absolute URL (Tigera's index names GitHub releases) is fetched through it.
     */
    downloadsMirror: Url.nullable(),
    gatewayApi: z.strictObject({ url: Url, sha256: z.string().regex(/^[0-9a-f]{64}$/) }).nullable(),
  }).nullable(),
  /** Kubernetes packages; null on an external etcd node. */
  packages: z.strictObject({
    kubernetes: AptRepo.extend({
      /** Exact release, e.g. 1.35.3; the package version is this with a revision (1.35.3-1.1). */
      version: z.string().regex(/^\d+\.\d+\.\d+$/),
      install: z.array(Package),
      held: z.array(Package),
    }),
    containerd: z.strictObject({
      /** Docker's repository, or null for the base's own archive. */
      repo: AptRepo.nullable(),
      package: Package,
      /** Release line the installed version must start with (2.2), or null for the archive's. */
      line: z.string().regex(/^\d+\.\d+$/).nullable(),
      held: z.array(Package),
    }),
    /** From the base's own archive: etcdctl for the joins' waits, keepalived and HAProxy for the VIP. */
    extra: z.array(Package),
  }).nullable(),
  /** Where kubeadm pulls images from, or "" for registry.k8s.io. */
  imageRepository: z.string(),
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
  /** How this node takes part in assembling the cluster; null when it does not (selfAssembly off, or an external etcd node). */
  assembly: Assembly.nullable(),
  /** The stage graph's runtime policy (the units carry the ordering). */
  stages: z.array(z.strictObject({
    name: Name,
    timeoutSeconds: z.number().int().positive(),
    attempts: z.number().int().positive(),
    delaySeconds: z.number().int().nonnegative(),
    maxDelaySeconds: z.number().int().nonnegative(),
    destructive: z.boolean(),
    /** An assembly stage, which a node told imgforge.assembly=off passes over. */
    assembly: z.boolean(),
  })),
});
export type NodeDoc = z.output<typeof NodeDoc>;

let schemaText: string | undefined;

/** The JSON Schema the node validates node.json against (the same for every node: made once). */
export function nodeDocJsonSchema(): string {
  schemaText ??= `${JSON.stringify({ ...z.toJSONSchema(NodeDoc, { target: 'draft-7' }), title: 'imgforge node document' }, null, 2)}\n`;
  return schemaText;
}
