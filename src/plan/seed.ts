import { createHash } from 'node:crypto';
import { load as loadYaml } from 'js-yaml';
import type nunjucks from 'nunjucks';
import { imgforgeError } from '../errors/error.ts';
import { renderTemplate } from '../render/environment.ts';
import { BUNDLE_NAME, type Bundle, type SECRETS_NAME } from './bundle.ts';
import type { SeedContext } from './context.ts';

/** A file of the node's NoCloud seed (cloud-init reads them from the CIDATA filesystem's root), or its bundle beside them. */
export interface SeedFile {
  readonly name: 'user-data' | 'meta-data' | 'network-config' | 'vendor-data' | typeof BUNDLE_NAME | typeof SECRETS_NAME;
  readonly content: string | Buffer;
}

/** Where the bootstrap looks for the bundle, in order: the seed's CIDATA file system, or a URL. */
export type BundleSource = 'cidata' | `http://${string}` | `https://${string}`;

/** The name bootcmd runs the bootstrap under ($0), by which the plan finds it again. */
export const BOOTSTRAP_NAME = 'imgforge-bundle';

export const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

/**
 * A rendered file read back by a second, independent YAML parser (js-yaml; a duplicate key is an
 * error there too): five times faster than the one imgforge reads configs with, which matters
 * when a plan renders hundreds of nodes.
 */
function parsed(node: string, file: string, text: string): unknown {
  try {
    return loadYaml(text, { filename: file });
  } catch (e) {
    throw imgforgeError('RenderedInvalid', { node, file, detail: (e as Error).message.split('\n')[0]! });
  }
}

function expect(ok: boolean, node: string, file: string, detail: string): void {
  if (!ok) throw imgforgeError('RenderedInvalid', { node, file, detail });
}

/**
 * Render the node's seed and read every YAML file back, so a broken template fails here, at
 * plan time, instead of on the node at first boot.
 */
export function renderSeed(env: nunjucks.Environment, ctx: SeedContext, bootstrap: string, bundle: Bundle, sources: readonly BundleSource[]): SeedFile[] {
  const host = ctx.node.hostname;
  const args = [BOOTSTRAP_NAME, bundle.sha256, String(bundle.tar.length), ...sources];
  const userData = renderTemplate(env, 'seed/user-data.njk', { ...ctx, bootstrap, bootstrapArgs: args });
  const networkConfig = renderTemplate(env, 'seed/network-config.njk', ctx);
  const vendorData = renderTemplate(env, 'seed/vendor-data.njk', ctx);

  expect(userData.startsWith('#cloud-config\n'), host, 'user-data', 'does not start with #cloud-config');
  const ud = parsed(host, 'user-data', userData) as { bootcmd?: (string | string[])[] } | null;
  expect(ud !== null && typeof ud === 'object', host, 'user-data', 'is not a mapping');
  // The bootstrap and its arguments must reach sh exactly: a YAML quoting slip would run something else.
  const back = ud!.bootcmd?.find((c) => Array.isArray(c) && c[3] === BOOTSTRAP_NAME);
  expect(back !== undefined && JSON.stringify(back) === JSON.stringify(['sh', '-c', bootstrap, ...args]), host, 'user-data', 'the bootstrap does not read back as rendered');
  const nc = parsed(host, 'network-config', networkConfig) as { network?: { version?: number } } | null;
  expect(nc?.network?.version === 2, host, 'network-config', 'is not netplan version 2');
  parsed(host, 'vendor-data', vendorData);

  // The instance-id names this exact seed: a changed seed is a new instance to cloud-init.
  const instanceId = `iid-${host}-${sha256([userData, networkConfig, vendorData].join('\0')).slice(0, 16)}`;
  const metaData = renderTemplate(env, 'seed/meta-data.njk', { instanceId, hostname: host });
  const md = parsed(host, 'meta-data', metaData) as Record<string, unknown> | null;
  expect(md?.['instance-id'] === instanceId && md?.['local-hostname'] === host, host, 'meta-data', 'does not carry instance-id and local-hostname');

  return [
    { name: 'user-data', content: userData },
    { name: 'meta-data', content: metaData },
    { name: 'network-config', content: networkConfig },
    { name: 'vendor-data', content: vendorData },
    { name: BUNDLE_NAME, content: bundle.tar },
  ];
}
