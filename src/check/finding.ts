import type { Cluster, ResolvedNode } from '../config/resolve.ts';
import type { Compatibility } from './compat.ts';
import type { PackageSources } from '../plan/packages.ts';

export type Severity = 'error' | 'warning' | 'info';

/** One thing `imgforge check` has to say about the cluster. */
export interface Finding {
  /** Stable identifier, e.g. etcd-quorum; tests and scripts match on it. */
  readonly id: string;
  readonly severity: Severity;
  readonly message: string;
  /** What to do about it. */
  readonly hint?: string;
  /** Config fields involved, as dotted paths. */
  readonly paths: readonly string[];
}

/** What a rule sees: the resolved cluster and the data it judges against. Rules are pure. */
export interface CheckContext {
  readonly cluster: Cluster;
  readonly compat: Compatibility;
  /** Where nodes download from, with the pinned digests (data/packages.yaml). */
  readonly packages: PackageSources;
  /** The day to judge end-of-life dates against (YYYY-MM-DD), given by the caller: rules read no clock. */
  readonly today: string;
}

export type Rule = (ctx: CheckContext) => Finding[];

export const nodePath = (n: ResolvedNode, field?: string): string => `nodes[${n.index}]${field ? `.${field}` : ''}`;

/** Pluralise a count for messages. */
export const count = (n: number, word: string, plural = `${word}s`): string => `${n} ${n === 1 ? word : plural}`;
