import nunjucks from 'nunjucks';
import { imgforgeError } from '../errors/error.ts';
import type { TemplateSet } from './templates.ts';

/** POSIX sh single-quoting: the only safe way to put arbitrary text into a shell word. */
export const shquote = (value: unknown): string => `'${String(value).replace(/'/g, `'\\''`)}'`;

/**
 * A value on one line. JSON is a subset of YAML's flow style (YAML 1.2 §1.3, and PyYAML reads the
 * escapes JSON.stringify emits), so every string comes out quoted and exact.
 */
export const yamlInline = (value: unknown): string => JSON.stringify(value);

/**
 * A multi-line string as a YAML literal block indented by `indent` spaces ("|" keeps the text
 * byte for byte). Text a literal block cannot carry exactly falls back to a quoted scalar.
 */
export function yamlBlock(value: unknown, indent: number): string {
  const text = String(value);
  // A literal block cannot start with indentation, keep trailing blanks or blank final lines
  // exactly (that needs "|+", which also swallows the blank lines after it), or carry control characters.
  const literalSafe = text.length > 0 && !/^[ \t\n]/.test(text) && !/\n\t/.test(text) && !/[ \t]\n/.test(text) && !/\n\n$/.test(text)
    && !/[\r\u0000-\u0008\u000b-\u001f]/.test(text.replace(/\t/g, ''));
  if (!literalSafe) return yamlInline(text);
  const chomp = text.endsWith('\n') ? '' : '-';
  const body = text.replace(/\n$/, '').split('\n').map((l) => (l === '' ? '' : ' '.repeat(indent) + l)).join('\n');
  return `|${chomp}\n${body}`;
}

/**
 * One nunjucks environment over an in-memory template set: rendering does no I/O, and an
 * undefined variable is an error (throwOnUndefined), not an empty string in a node's config.
 */
export function createEnvironment(templates: TemplateSet): nunjucks.Environment {
  const loader: nunjucks.ILoader = {
    getSource(name: string) {
      const src = templates.get(name);
      if (src === undefined) throw new Error(`template not found: ${name}`);
      return { src, path: name, noCache: false };
    },
  };
  const env = new nunjucks.Environment(loader, { autoescape: false, throwOnUndefined: true, trimBlocks: true, lstripBlocks: true });
  env.addFilter('shquote', shquote);
  env.addFilter('yaml', yamlInline);
  env.addFilter('block', yamlBlock);
  env.addFilter('json', (v: unknown) => JSON.stringify(v));
  // hosts(5) lines, one per address: a template loop over every node of a large cluster, for every node, is slow.
  env.addFilter('hostsLines', (hosts: readonly { ip: string; names: readonly string[] }[]) => hosts.map((h) => `${h.ip}\t${h.names.join(' ')}\n`).join(''));
  return env;
}

export function renderTemplate(env: nunjucks.Environment, name: string, context: object): string {
  try {
    return env.render(name, context);
  } catch (e) {
    throw imgforgeError('TemplateFailed', { template: name, detail: (e as Error).message.replace(/\s+/g, ' ').trim() }, { cause: e });
  }
}
