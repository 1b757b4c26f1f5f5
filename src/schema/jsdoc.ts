/**
 * The JSDoc of every field of the zod object literals in a schema source file, so the JSON
 * Schemas carry the same words the TypeScript types show in an editor (one source for both).
 * The schema files are written in one style (`/** doc *\/` on the lines before `key: z...`), which
 * this reader relies on; scripts/gen-schema.ts reads them, and a test checks that every field of
 * the generated schemas has its description.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Per object literal, each key's doc, found two ways: by the literal's keys (sorted, joined by
 * ","), when no two literals with those keys document them differently; and by the field the
 * literal is the value of with its keys ("rookCeph|partition,replicas,version").
 */
export type FieldDocs = Map<string, Map<string, string>>;
/** Key sets that two literals document differently: only found with the field's name. */
const AMBIGUOUS = new Map<string, string>();

/** Strip what may hold braces without being code: strings, template strings, regex literals. */
function code(line: string): string {
  return line
    .replace(/'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|`(?:\\.|[^`\\])*`/g, '""')
    .replace(/([(,=:]\s*)\/(?:\\.|\[(?:\\.|[^\]\\])*\]|[^/\\\n])+\/[dgimsuy]*/g, '$1/r/');
}

/** The text of a JSDoc block: its lines without the stars, tags as sentences ("@default x" as "Default: x."). */
function docText(raw: string): string {
  const lines = raw.replace(/^\/\*\*/, '').replace(/\*\/$/, '').split('\n').map((l) => l.replace(/^\s*\* ?/, '').trim());
  return lines.join(' ').replace(/\s+/g, ' ').replace(/\s*@default\s+(.+)$/, (_, d: string) => ` Default: ${d.trim()}.`).trim();
}

/** Docs for an object's fields: by the field it is the value of, else by its keys alone. */
export function docsFor(docs: FieldDocs, keys: readonly string[], field?: string): ReadonlyMap<string, string> | undefined {
  const key = [...keys].sort().join(',');
  const named = field === undefined ? undefined : docs.get(`${field}|${key}`);
  const plain = docs.get(key);
  return named ?? (plain === AMBIGUOUS ? undefined : plain);
}

export function fieldDocs(source: string, into: FieldDocs = new Map()): FieldDocs {
  interface Group { readonly depth: number; readonly name: string; readonly docs: Map<string, string | undefined> }
  const stack: Group[] = [];
  let depth = 0;
  let pending: string | undefined;
  let inDoc: string | undefined;
  const close = (g: Group): void => {
    const key = [...g.docs.keys()].sort().join(',');
    const docs = new Map([...g.docs].filter((e): e is [string, string] => e[1] !== undefined));
    if (g.name) into.set(`${g.name}|${key}`, docs);
    if (into.get(key) === AMBIGUOUS) return;
    const seen = into.get(key);
    if (seen && [...docs].some(([k, d]) => seen.has(k) && seen.get(k) !== d)) into.set(key, AMBIGUOUS);
    else into.set(key, new Map([...(seen ?? []), ...docs]));
  };
  for (const line of source.split('\n')) {
    if (inDoc !== undefined) {
      inDoc += `\n${line}`;
      if (line.includes('*/')) { pending = docText(inDoc); inDoc = undefined; }
      continue;
    }
    const t = line.trim();
    if (t.startsWith('/**')) {
      if (t.includes('*/')) pending = docText(t);
      else inDoc = t;
      continue;
    }
    if (t.startsWith('//') || t === '') continue;
    const c = code(line);
    const prop = /^\s*([A-Za-z_$][\w$]*|"")\??:\s/.exec(c);
    const top = stack.at(-1);
    if (prop && top && depth === top.depth) top.docs.set(prop[1]!, pending);
    pending = undefined;
    // Walk the line's braces; an object literal passed to z.object/strictObject/looseObject opens a group.
    for (let i = 0; i < c.length; i++) {
      if (c[i] === '{') {
        depth++;
        const before = c.slice(0, i);
        if (/(strictObject|looseObject|object)\(\s*$/.test(before)) {
          const name = /(?:^|\s)([A-Za-z_$][\w$]*)\??(?::|\s*=)\s*z\.\w+\(\s*$/.exec(before)?.[1] ?? '';
          stack.push({ depth, name, docs: new Map() });
        }
      } else if (c[i] === '}') {
        if (stack.at(-1)?.depth === depth) close(stack.pop()!);
        depth--;
      }
    }
  }
  return into;
}

/** The sources the JSON Schemas are made from: the config's and the profiles' zod schemas. */
export function readFieldDocs(): FieldDocs {
  const docs: FieldDocs = new Map();
  const dir = fileURLToPath(new URL('../config/schema/', import.meta.url));
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts')).sort()) fieldDocs(readFileSync(`${dir}${f}`, 'utf8'), docs);
  fieldDocs(readFileSync(fileURLToPath(new URL('../profiles/schema.ts', import.meta.url)), 'utf8'), docs);
  return docs;
}
