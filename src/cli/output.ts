import { isImgforgeError, type ImgforgeError } from '../errors/error.ts';
import type { Finding } from '../check/finding.ts';

/** Where the CLI writes; tests pass their own. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

export const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

export function formatError(e: ImgforgeError, debug: boolean): string {
  const lines = [`${e.title}: ${e.message}`, ...e.details.map((d) => `  - ${d}`)];
  if (e.hint) lines.push(`hint: ${e.hint}`);
  if (debug) lines.push(...e.debugDetails.map((d) => `  ${d}`));
  if (debug && e.stack) lines.push('', e.stack);
  if (debug && e.cause instanceof Error && e.cause.stack) lines.push('caused by:', e.cause.stack);
  return `${lines.join('\n')}\n`;
}

export function errorJson(e: ImgforgeError): unknown {
  return { error: { code: e.code, category: e.category, title: e.title, message: e.message, details: e.details, hint: e.hint ?? null, ...e.data } };
}

/** An error outside the catalogue is imgforge's own fault; say so and how to report it. */
export function formatBug(e: unknown, version: string, debug: boolean): string {
  const text = e instanceof Error ? (debug ? (e.stack ?? e.message) : e.message) : String(e);
  return [
    `Internal error: ${text}`,
    'This is a bug in imgforge, not in your config.',
    `Please report it with this output, \`imgforge --version\` (${version}), Node ${process.versions.node} on ${process.platform}/${process.arch},`,
    'and the output of the same command run with --debug.',
    '',
  ].join('\n');
}

const MARK = { error: 'error', warning: 'warn ', info: 'note ' } as const;

export function formatFinding(f: Finding): string {
  const lines = [`${MARK[f.severity]} [${f.id}] ${f.message}`];
  if (f.hint) lines.push(`      hint: ${f.hint}`);
  if (f.paths.length) lines.push(`      at: ${f.paths.join(', ')}`);
  return lines.join('\n');
}

export { isImgforgeError };
