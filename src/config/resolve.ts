import { imgforgeError } from '../errors/error.ts';
import { formatIssues, formatPath } from '../errors/zod.ts';
import { deepMerge, isPlainObject } from '../profiles/merge.ts';
import { flattenProfile } from '../profiles/resolve.ts';
import { Profile, type Profile as ProfileT } from '../profiles/schema.ts';
import type { RawProfile } from '../profiles/load.ts';
import type { NodeConfig, ResolvedConfig } from './schema/index.ts';
import type { RawConfig } from './load.ts';

/** A node with its board profile applied: what every later stage works from. */
export interface ResolvedNode {
  readonly index: number;
  readonly config: NodeConfig;
  /** The board profile with the node's overrides, disk and layout merged in. */
  readonly profile: ProfileT;
  /** Disk size in bytes, when the config states it. */
  readonly diskSize: number | undefined;
}

export interface Cluster {
  readonly path: string;
  readonly config: ResolvedConfig;
  readonly nodes: readonly ResolvedNode[];
  /** Every profile known, by name (for `imgforge profiles` and target names). */
  readonly profiles: ReadonlyMap<string, ProfileT>;
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length]![b.length]!;
  };
  const best = candidates.map((c) => [c, dist(word, c)] as const).sort((x, y) => x[1] - y[1])[0];
  return best && best[1] <= Math.max(2, Math.floor(word.length / 3)) ? best[0] : undefined;
}

/** "nodes[i].board: no board profile named ..." for each board not among the known profiles. */
export function unknownBoards(boards: readonly (string | undefined)[], known: readonly string[]): string[] {
  return boards.flatMap((board, index) => {
    if (board === undefined || known.includes(board)) return [];
    const guess = closest(board, known);
    return [`${formatPath(['nodes', index, 'board'])}: no board profile named "${board}"${guess ? ` (did you mean "${guess}"?)` : ''}; known: ${known.join(', ')}`];
  });
}

/**
 * Apply each node's board profile, then its overrides, disk and layout (same merge rule as
 * `extends`), and validate the result. Reference errors (unknown board) are input errors naming
 * the field, reported together.
 */
export function resolveCluster(raw: RawConfig, config: ResolvedConfig, rawProfiles: ReadonlyMap<string, RawProfile>, profiles: ReadonlyMap<string, ProfileT>): Cluster {
  const problems: string[] = [];
  const nodes: ResolvedNode[] = [];
  const rawNodes = isPlainObject(raw.value) && Array.isArray(raw.value['nodes']) ? (raw.value['nodes'] as unknown[]) : [];
  const known = [...profiles.keys()];
  config.nodes.forEach((node, index) => {
    const at = ['nodes', index];
    if (!profiles.has(node.board)) {
      problems.push(...unknownBoards([...Array<undefined>(index), node.board], known));
      return;
    }
    const rawNode = isPlainObject(rawNodes[index]) ? rawNodes[index] : {};
    const patch = deepMerge(rawNode['overrides'] ?? {}, {
      disk: isPlainObject(rawNode['disk']) ? { device: rawNode['disk']['device'], media: rawNode['disk']['media'] } : undefined,
      layout: rawNode['layout'],
    });
    const merged = deepMerge(flattenProfile(node.board, rawProfiles), patch);
    const result = Profile.safeParse(merged, { reportInput: true });
    if (!result.success) {
      problems.push(...formatIssues(result.error.issues, [...at, 'overrides']));
      return;
    }
    nodes.push({ index, config: node, profile: result.data, diskSize: node.disk?.size });
  });
  if (problems.length) throw imgforgeError('ConfigInvalid', { path: raw.path, count: problems.length }, { details: problems });
  return { path: raw.path, config, nodes, profiles };
}
