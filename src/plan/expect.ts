import type { Layout } from '../config/schema/layout.ts';
import type { SeedContext } from './context.ts';
import { placePartitions, planLayout } from './layout.ts';

/** What a node printed through imgforge-report: "imgforge: report <key> <words...>" lines. */
export type Report = readonly (readonly string[])[];

export function parseReport(lines: readonly string[], phase: string): Report | undefined {
  const out: string[][] = [];
  for (const line of lines) {
    const m = /imgforge: report (.*)$/.exec(line);
    if (!m) continue;
    const words = m[1]!.split(' ');
    if (words[0] === 'end' && words[1] === phase) return out;
    if (words[0] === 'hostname' && out.length) out.length = 0; // a report started again (a reboot)
    out.push(words);
  }
  return undefined;
}

export interface Verdict {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
}

const get = (r: Report, key: string): string[][] => r.filter((w) => w[0] === key).map((w) => w.slice(1));

/**
 * Compare a node's report with what its seed and layout promise. Pure: the same report and
 * plan give the same verdicts, so `imgforge test` and the test suite judge alike.
 */
export function judgeReport(ctx: SeedContext, layout: Layout, r: Report, stages: readonly string[], firmware?: 'uefi' | 'bios'): Verdict[] {
  const v: Verdict[] = [];
  const say = (check: string, ok: boolean, detail: string): void => { v.push({ check, ok, detail }); };
  const booted = get(r, 'firmware')[0]?.[0] ?? '';
  if (firmware) say(`booted by ${firmware}`, booted === firmware, `the kernel ${booted ? `was started by ${booted}` : 'did not say how it was started'}`);
  const hostname = get(r, 'hostname')[0]?.[0] ?? '';
  say('hostname', hostname === ctx.node.hostname, `hostname ${hostname}, expected ${ctx.node.hostname}`);
  for (const u of ctx.users) {
    const keys = get(r, 'user').filter((w) => w[0] === u.name && w[1] === 'key').map((w) => w.slice(2).join(' '));
    for (const k of u.keys) say(`ssh key of ${u.name}`, keys.includes(k), keys.includes(k) ? 'in authorized_keys' : `missing from /home/${u.name}/.ssh/authorized_keys`);
  }
  const addr = get(r, 'addr')[0]?.[0] ?? '';
  say('network-config', ctx.node.address ? addr === ctx.node.address : addr !== '', `${ctx.network.iface} has ${addr || 'no address'}${ctx.node.address ? `, expected ${ctx.node.address}` : ''}`);
  if (ctx.node.address && ctx.network.gateway) {
    const via = get(r, 'route')[0]?.[0] ?? '';
    say('default route', via === ctx.network.gateway, `default route ${via ? `via ${via}` : 'missing'}, expected via ${ctx.network.gateway}`);
  }
  const dns = (get(r, 'dns')[0] ?? []).filter(Boolean);
  const missing = ctx.network.dns.filter((d) => !dns.includes(d));
  say('dns', missing.length === 0, `resolver uses ${dns.join(' ') || 'nothing'}${missing.length ? `; missing ${missing.join(' ')}` : ''}`);
  const ntp = (get(r, 'ntp')[0] ?? []).filter(Boolean).join(' ');
  say('time sync', ntp === ctx.network.ntp.join(' '), `timesyncd NTP=${ntp || '(none)'}`);
  say('swap off', get(r, 'swap')[0]?.[0] === '0', `${get(r, 'swap')[0]?.[0] ?? '?'} active swap areas`);
  for (const [key, want] of ctx.sysctls) {
    const got = get(r, 'sysctl').find((w) => w[0] === key)?.slice(1).join(' ') ?? '';
    say(`sysctl ${key}`, got === want, `${got || '(unset)'}, expected ${want}`);
  }
  for (const m of ctx.requiredModules) {
    const state = get(r, 'module').find((w) => w[0] === m)?.[1] ?? 'missing';
    say(`module ${m}`, state === 'loaded', state);
  }
  const ok = new Set(get(r, 'stage').map((w) => w[0]));
  for (const s of stages) say(`stage ${s}`, ok.has(s), ok.has(s) ? 'ok' : 'did not succeed');
  const gpt = get(r, 'gpt')[0]?.join(' ') ?? '';
  say('backup GPT at the disk end', gpt === 'ok', gpt || 'not reported');

  const disk = Number(get(r, 'disk')[0]?.[1] ?? NaN);
  const root = get(r, 'root')[0] ?? [];
  const rootStart = Number(root[1]), rootBytes = Number(root[2]), rootFs = Number(root[3]);
  const placed = placePartitions(planLayout(layout, disk), rootStart, disk / 512);
  if (typeof placed === 'string' || !Number.isFinite(disk + rootStart)) {
    say('layout', false, typeof placed === 'string' ? placed : 'disk or root not reported');
    return v;
  }
  const wantRoot = placed.find((p) => p.role === 'root')!;
  const wantRootBytes = (wantRoot.lastLba - wantRoot.firstLba + 1) * 512;
  say('root size', rootBytes === wantRootBytes, `root partition ${rootBytes} bytes, declared ${wantRootBytes}`);
  say('root file system grown', rootFs >= rootBytes * 0.9 && rootFs <= rootBytes, `file system ${rootFs} bytes on a ${rootBytes}-byte partition`);
  const parts = get(r, 'part');
  for (const res of layout.reserved) {
    const found = parts.filter((w) => w[0] === res.name);
    const want = placed.find((p) => p.name === res.name)!;
    const at = found[0];
    say(`partition ${res.name}`, found.length === 1, `${found.length} partition(s) labelled ${res.name}`);
    if (!at) continue;
    const wantBytes = (want.lastLba - want.firstLba + 1) * 512;
    say(`partition ${res.name} placement`, Number(at[1]) === want.firstLba && Number(at[2]) === wantBytes, `at sector ${at[1]}, ${at[2]} bytes; planned ${want.firstLba}, ${wantBytes}`);
    if (res.format === 'raw') say(`partition ${res.name} raw`, at[3] === '-', at[3] === '-' ? 'no file system signature' : `signature ${at[3]} found`);
    else say(`partition ${res.name} ext4 at ${res.mountpoint}`, at[3] === 'ext4' && at[4] === res.mountpoint, `${at[3]} mounted at ${at[4] || '(nothing)'}`);
  }
  return v;
}
