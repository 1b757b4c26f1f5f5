import type { z } from 'zod';

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

/** nodes[2].address — the form users read and search for in their config. */
export function formatPath(path: Path): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_$][\w$]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out || '(top level)';
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return `${typeof value} ${String(value)}`;
}

function message(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? `required (${issue.expected})` : `expected ${issue.expected}, got ${describe(issue.input)}`;
    case 'invalid_value':
      return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}, got ${describe(issue.input)}`;
    case 'invalid_union': {
      const branches = issue.errors.map((branch) => branch.map((i) => message(i)).join('; '));
      return [...new Set(branches)].join(', or ');
    }
    case 'invalid_key':
    case 'invalid_element':
      return issue.issues.map((i) => message(i)).join('; ');
    case 'too_small':
      return issue.origin === 'array' ? `needs at least ${issue.minimum} entr${issue.minimum === 1 ? 'y' : 'ies'}`
        : issue.origin === 'string' ? `must not be empty` : `must be >= ${issue.minimum}`;
    case 'too_big':
      return issue.origin === 'array' ? `allows at most ${issue.maximum} entries` : `must be <= ${issue.maximum}`;
    case 'invalid_format':
      return `${issue.message.replace(/^Invalid string: /, '')}, got ${describe(issue.input)}`;
    default:
      return issue.input === undefined || issue.code === 'unrecognized_keys' ? issue.message : `${issue.message}, got ${describe(issue.input)}`;
  }
}

/**
 * One line per problem, "path: message". Unknown keys get a line each with the key in the path,
 * so the user can find the typo.
 */
export function formatIssues(issues: readonly Issue[], prefix: Path = []): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${formatPath([...prefix, ...issue.path, key])}: unknown key`);
      continue;
    }
    lines.push(`${formatPath([...prefix, ...issue.path])}: ${message(issue)}`);
  }
  return [...new Set(lines)];
}
