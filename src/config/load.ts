import { access, readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { imgforgeError } from '../errors/error.ts';

const MODULE_EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs']);
const DATA_EXTENSIONS = new Set(['.json', '.yaml', '.yml']);

/** A config as read from disk, before validation. */
export interface RawConfig {
  readonly path: string;
  readonly value: unknown;
}

function errorDetail(e: unknown): string {
  if (e instanceof YAMLParseError) return e.message.split('\n')[0]!.replace(/:\s*$/, '');
  if (e instanceof SyntaxError) return `syntax error: ${e.message}`;
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    return code ? `${code}: ${e.message.split('\n')[0]}` : e.message.split('\n')[0]!;
  }
  return String(e);
}

/**
 * Load images.config.{ts,mjs,js,json,yaml}. TypeScript is loaded by Node's own type stripping
 * (Node >= 22.18: doc/api/typescript.md), so the config runs exactly as written, with no bundler.
 */
export async function loadConfigFile(file: string): Promise<RawConfig> {
  const path = resolve(file);
  const ext = extname(path).toLowerCase();
  if (!MODULE_EXTENSIONS.has(ext) && !DATA_EXTENSIONS.has(ext)) throw imgforgeError('ConfigExtension', { path });
  try {
    await access(path);
  } catch {
    throw imgforgeError('ConfigNotFound', { path });
  }
  if (DATA_EXTENSIONS.has(ext)) {
    const text = await readFile(path, 'utf8');
    try {
      return { path, value: ext === '.json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true }) };
    } catch (e) {
      throw imgforgeError('ConfigDataSyntax', { path, detail: errorDetail(e) }, { cause: e });
    }
  }
  if ((ext === '.ts' || ext === '.mts') && !process.features.typescript) {
    throw imgforgeError('NodeTooOld', { version: process.versions.node });
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (e) {
    const code = (e as { code?: string }).code;
    // The config imports imgforge where no imgforge package is installed (a folder outside a project).
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') && /['"]imgforge['"]/.test(String((e as Error).message))) {
      throw imgforgeError('ConfigImportMissing', { path }, { cause: e });
    }
    // Only a file Node could not parse gets the hint about TypeScript's erasable syntax.
    if (e instanceof SyntaxError || code === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' || code === 'ERR_INVALID_TYPESCRIPT_SYNTAX') {
      throw imgforgeError('ConfigSyntax', { path, detail: errorDetail(e) }, { cause: e });
    }
    throw imgforgeError('ConfigThrew', { path, detail: errorDetail(e) }, { cause: e });
  }
  if (mod.default === undefined) throw imgforgeError('ConfigNoExport', { path });
  try {
    // A config may export a value, a promise, or a (possibly async) function returning one.
    const value: unknown = await (typeof mod.default === 'function' ? (mod.default as () => unknown)() : mod.default);
    return { path, value };
  } catch (e) {
    throw imgforgeError('ConfigThrew', { path, detail: errorDetail(e) }, { cause: e });
  }
}
