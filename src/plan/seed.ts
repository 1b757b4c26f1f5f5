import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type nunjucks from 'nunjucks';
import { imgforgeError } from '../errors/error.ts';
import { renderTemplate } from '../render/environment.ts';
import type { SeedContext } from './context.ts';

/** A file of the node's NoCloud seed (cloud-init reads them from the CIDATA filesystem's root). */
export interface SeedFile {
  readonly name: 'user-data' | 'meta-data' | 'network-config' | 'vendor-data';
  readonly content: string;
}

/** A first-boot stage: a shell script from templates/scripts, run by cloud-init. */
export interface Stage {
  readonly name: string;
  /**
   * bootcmd stages run inside cloud-init's init stage, their script inline in user-data; runcmd
   * stages run from the files stage's scripts in a unit of their own, alongside cloud-init.
   */
  readonly phase: 'bootcmd' | 'runcmd';
  readonly frequency: 'once per instance' | 'every boot' | 'until it succeeds';
  readonly template: string;
  /** The script reaches sh on stdin from cloud-init's private bootcmd file, not in argv (ps shows argv). */
  readonly stdin?: boolean;
}

/**
 * The stages, in order. "files" writes, and syncs, every file the node needs before anything uses
 * them (cloud-init's write_files does not fsync, and a power cut lost them). The seed turns
 * cloud-init's growpart off, so only the layout stage grows root, to its declared end: it need not
 * hold up cloud-init's init stage and runs first in the background unit. The cluster assembly
 * joins as a runcmd stage after prepare.
 */
export const STAGES: readonly Stage[] = [
  { name: 'files', phase: 'bootcmd', frequency: 'every boot', template: 'scripts/files.sh.njk', stdin: true },
  { name: 'identity', phase: 'bootcmd', frequency: 'once per instance', template: 'scripts/identity.sh.njk' },
  { name: 'layout', phase: 'runcmd', frequency: 'every boot', template: 'scripts/layout.sh.njk' },
  { name: 'prepare', phase: 'runcmd', frequency: 'until it succeeds', template: 'scripts/prepare.sh.njk' },
];

/** Files written by the "files" stage, and the template each comes from. */
export function writtenFiles(): { path: string; template: string; mode: string }[] {
  return [
    { path: '/etc/hosts', template: 'files/hosts.njk', mode: '0644' },
    { path: '/etc/modules-load.d/imgforge.conf', template: 'files/modules.conf.njk', mode: '0644' },
    { path: '/etc/sysctl.d/90-imgforge.conf', template: 'files/sysctl.conf.njk', mode: '0644' },
    { path: '/etc/systemd/journald.conf.d/90-imgforge.conf', template: 'files/journald.conf.njk', mode: '0644' },
    { path: '/etc/imgforge/node.env', template: 'files/node.env.njk', mode: '0644' },
    { path: '/usr/local/sbin/imgforge-stage', template: 'scripts/imgforge-stage.sh.njk', mode: '0755' },
    { path: '/usr/local/sbin/imgforge-report', template: 'scripts/report.sh.njk', mode: '0755' },
    ...STAGES.filter((s) => s.phase === 'runcmd').map((s) => ({ path: `/usr/local/lib/imgforge/stages/${s.name}.sh`, template: s.template, mode: '0755' })),
  ];
}

/** The end line of the here-document that carries a stdin stage's script. */
export const HEREDOC_END = 'IMGFORGE_STAGE_END';

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

function parsed(node: string, file: string, text: string): unknown {
  try {
    return parseYaml(text, { uniqueKeys: true, strict: true });
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
export function renderSeed(env: nunjucks.Environment, ctx: SeedContext): SeedFile[] {
  const host = ctx.node.hostname;
  const files = writtenFiles().map((f) => ({ path: f.path, mode: f.mode, content: renderTemplate(env, f.template, ctx) }));
  const bootStages = STAGES.filter((s) => s.phase === 'bootcmd').map((s) => ({ ...s, script: renderTemplate(env, s.template, { ...ctx, files }) }));
  const runStages = STAGES.filter((s) => s.phase === 'runcmd').map((s) => s.name);
  const everyBootStages = STAGES.filter((s) => s.phase === 'runcmd' && s.frequency === 'every boot').map((s) => s.name);
  const userData = renderTemplate(env, 'seed/user-data.njk', { ...ctx, bootStages, runStages, everyBootStages, heredocEnd: HEREDOC_END });
  const networkConfig = renderTemplate(env, 'seed/network-config.njk', ctx);
  const vendorData = renderTemplate(env, 'seed/vendor-data.njk', ctx);

  if (process.env.IMGFORGE_DEBUG_RENDER) process.stderr.write(userData);
  expect(userData.startsWith('#cloud-config\n'), host, 'user-data', 'does not start with #cloud-config');
  const ud = parsed(host, 'user-data', userData) as { bootcmd?: (string | string[])[] } | null;
  expect(ud !== null && typeof ud === 'object', host, 'user-data', 'is not a mapping');
  for (const s of bootStages) {
    const back = ud!.bootcmd?.find((c) => (typeof c === 'string' ? c.endsWith(`${HEREDOC_END}\n`) && c.includes(` imgforge-${s.name} <<`) : c.at(-1) === `imgforge-${s.name}`));
    const text = typeof back === 'string' ? back.slice(back.indexOf('\n') + 1, -`${HEREDOC_END}\n`.length) : back?.at(-2);
    expect(text === s.script, host, 'user-data', `bootcmd stage ${s.name} does not read back as rendered`);
    expect(!s.stdin || !s.script.split('\n').includes(HEREDOC_END), host, 'user-data', `stage ${s.name} contains its own here-document end line`);
  }
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
  ];
}
