import type { Layout } from '../config/schema/layout.ts';
import type { Event } from '../protocol/events.ts';
import type { StagePlan } from './stages.ts';
import type { SeedContext } from './context.ts';
import { placePartitions, planLayout } from './layout.ts';

/** What a node reported: one entry per fact, its name then its words. */
export type Report = readonly (readonly string[])[];

/** The facts of a boot's report, from its events; undefined unless the report finished. */
export function reportOf(events: readonly Event[]): Report | undefined {
  if (!events.some((e) => e.stage === 'report' && e.state === 'ok')) return undefined;
  return events.filter((e) => e.stage === 'report' && e.state === 'note' && e.fact !== undefined).map((e) => [e.fact!, ...(e.value ?? [])]);
}

export interface Verdict {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
}

const LINUX_TYPE = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';
const get = (r: Report, key: string): string[][] => r.filter((w) => w[0] === key).map((w) => w.slice(1));

/**
 * Compare a node's report with what its seed and layout promise. Pure: the same report and
 * plan give the same verdicts, so `imgforge test` and the test suite judge alike.
 */
export function judgeReport(ctx: SeedContext, layout: Layout, r: Report, firmware?: 'uefi' | 'bios'): Verdict[] {
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
  const gpt = get(r, 'gpt')[0]?.join(' ') ?? '';
  say('backup GPT at the disk end', gpt === 'ok', gpt || 'not reported');

  const disk = Number(get(r, 'disk')[0]?.[1] ?? NaN);
  const root = get(r, 'root')[0] ?? [];
  const rootStart = Number(root[1]), rootBytes = Number(root[2]), rootFs = Number(root[3]);
  if (!Number.isFinite(disk + rootStart)) {
    say('layout', false, 'disk or root not reported');
    return v;
  }
  const placed = placePartitions(planLayout(layout, disk), rootStart, disk / 512);
  if (typeof placed === 'string') {
    say('layout', false, placed);
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
    say(`partition ${res.name} type`, at[5]?.toUpperCase() === LINUX_TYPE, `type ${at[5] ?? '?'}`);
    if (res.format === 'raw') say(`partition ${res.name} raw`, at[3] === '-', at[3] === '-' ? 'no file system signature' : `signature ${at[3]} found`);
    else say(`partition ${res.name} ext4 at ${res.mountpoint}`, at[3] === 'ext4' && at[4] === res.mountpoint, `${at[3]} mounted at ${at[4] || '(nothing)'}`);
  }
  return v;
}

/** Each planned stage ended ok in this boot (its last event), or why not. */
export function judgeStages(stages: readonly StagePlan[], events: readonly Event[]): Verdict[] {
  return stages.map((s) => {
    const last = events.filter((e) => e.stage === s.name && e.state !== 'note').at(-1);
    const ok = last?.state === 'ok';
    return { check: `stage ${s.name}`, ok, detail: last ? `${last.state}${last.msg ? `: ${last.msg}` : ''}` : 'never ran' };
  });
}

/** A boot after the first: every stage found its work done and changed nothing. */
export function judgeUnchanged(events: readonly Event[]): Verdict {
  const changed = events.filter((e) => e.state === 'ok' && e.changed === true);
  const notes = events.filter((e) => e.state === 'note' && e.stage !== 'report').map((e) => `${e.stage}: ${e.msg}`);
  return {
    check: 'a later boot changes nothing', ok: changed.length === 0 && notes.length === 0,
    detail: changed.length || notes.length ? [...changed.map((e) => `${e.stage} changed the machine`), ...notes].join('; ') : 'every stage found its work done',
  };
}

/**
 * The node's secrets as its report shows them: each file it was given, installed with its mode;
 * their digests those its bundle pins; none left on CIDATA once installed.
 */
export function judgeSecrets(files: readonly { readonly path: string; readonly mode: number }[], r: Report): Verdict[] {
  if (!files.length) return [];
  const seen = new Map(get(r, 'secret').map((w) => [w[0]!, w[1] ?? '']));
  const v: Verdict[] = files.map((f) => {
    const mode = seen.get(f.path) ?? 'not reported';
    return { check: `secret ${f.path}`, ok: mode === f.mode.toString(8), detail: `mode ${mode}, given ${f.mode.toString(8)}` };
  });
  const digests = get(r, 'secrets-digests')[0]?.[0] ?? 'not reported';
  v.push({ check: 'secrets match their pinned digests', ok: digests === 'ok', detail: digests });
  const left = get(r, 'cidata-secrets')[0]?.[0] ?? 'not reported';
  v.push({ check: 'secrets removed from CIDATA', ok: left === 'absent', detail: `imgforge-secrets.tar ${left === 'absent' ? 'is gone' : left}` });
  return v;
}
