import { z } from 'zod';
import { Cluster } from './cluster.ts';
import { Network, User } from './network.ts';
import { Node } from './node.ts';

/** images.config.ts: the whole cluster, one file. */
export const ImagesConfig = z.strictObject({
  /** JSON Schema reference, for .json and .yaml configs. */
  $schema: z.string().optional(),
  /** The Kubernetes cluster. */
  cluster: Cluster,
  /** LAN settings. @default {} */
  network: Network.prefault({}),
  /** Accounts created on every node. */
  users: z.array(User).min(1),
  /** The machines. */
  nodes: z.array(Node).min(1),
  /** Extra folders of board profiles, relative to the config file. @default [] */
  profileDirs: z.array(z.string()).default([]),
});

/** What a user writes: defaults may be left out. */
export type UserConfig = z.input<typeof ImagesConfig>;
/** The config after validation and defaults; the only form code past the boundary sees. */
export type ResolvedConfig = z.output<typeof ImagesConfig>;
export type NodeConfig = ResolvedConfig['nodes'][number];
