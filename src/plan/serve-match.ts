/**
 * How a request finds what it may have, against a serve plan (pure): the node an identifier
 * names, the file, and whether the request proves it is that node. The server does what this
 * says and nothing else; the tests run every case without a socket.
 */
import { proves } from '../secrets/enrolment.ts';
import type { ServedFile, ServedNode, ServePlan } from './serve.ts';

export type IdentifierKind = 'hostname' | 'mac' | 'serial' | 'uuid';
export interface Selector { readonly by: IdentifierKind; readonly value: string }

export type FileOutcome =
  | { readonly status: 200; readonly node: ServedNode; readonly file: ServedFile; readonly proof: 'path' | 'bearer' | 'none' }
  | { readonly status: 400; readonly reason: string }
  | { readonly status: 401 | 403; readonly node: ServedNode; readonly reason: string }
  /** Unknown: an identifier no node has (the server lists the machine), or a file no seed has. */
  | { readonly status: 404; readonly reason: string; readonly unknown: Selector | null };

export type PosterOutcome = { readonly status: 200; readonly node: ServedNode } | { readonly status: 401 | 403 | 404; readonly reason: string };

/** "52:54:00:AB:CD:EF", "52-54-00-ab-cd-ef" (iPXE ${mac:hexhyp}) or "525400abcdef" (${mac:hexraw}) as 52:54:00:ab:cd:ef. */
export function normaliseMac(text: string): string | undefined {
  const hex = /^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$/i.test(text) ? text.replace(/[:-]/g, '').toLowerCase() : undefined;
  return hex?.match(/../g)!.join(':');
}

/** An identifier as the plan keys it, or why it cannot be one. */
function normalise(sel: Selector): string | { bad: string } {
  switch (sel.by) {
    case 'hostname': return /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(sel.value) ? sel.value : { bad: 'not a hostname' };
    case 'mac': return normaliseMac(sel.value) ?? { bad: 'not a MAC address' };
    case 'uuid': return /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(sel.value) ? sel.value.toLowerCase() : { bad: 'not a UUID' };
    // DMI values reach the URL raw (cloudinit/dmi.py sub_dmi_vars): an empty one makes "//".
    case 'serial': return /^[!-~]([ -~]{0,62}[!-~])?$/.test(sel.value) ? sel.value : { bad: 'not a serial number (empty, too long, or not printable)' };
  }
}

/** The token of an `Authorization: Bearer <token>` header. */
export const bearerOf = (header: string | undefined): string | undefined => /^Bearer ([^\s]+)$/i.exec(header ?? '')?.[1];

/** GET <selector>/[<enrolment>/]<name>: what to answer. */
export function resolveFile(plan: ServePlan, sel: Selector, enrolment: string | undefined, name: string, bearer: string | undefined): FileOutcome {
  const key = normalise(sel);
  if (typeof key !== 'string') return { status: 400, reason: `${sel.by} ${JSON.stringify(sel.value)}: ${key.bad}` };
  const host = plan.by[sel.by].get(key);
  if (host === undefined) return { status: 404, reason: `no node has ${sel.by} ${key}`, unknown: { by: sel.by, value: key } };
  const node = plan.nodes.find((n) => n.hostname === host)!;
  if (enrolment !== undefined && !proves(enrolment, node.proof)) return { status: 403, node, reason: `not ${host}'s enrolment secret` };
  const file = (enrolment !== undefined ? node.enrolled : node.open).find((f) => f.name === name);
  if (!file) return { status: 404, reason: `${host}'s seed has no file ${JSON.stringify(name)}`, unknown: null };
  if (!file.secret || enrolment !== undefined) return { status: 200, node, file, proof: enrolment !== undefined ? 'path' : 'none' };
  // Never by an identifier alone: MACs, serials and hostnames are public on a LAN.
  if (bearer === undefined) return { status: 401, node, reason: `${name} holds ${host}'s secrets: it needs ${host}'s enrolment secret` };
  if (!proves(bearer, node.proof)) return { status: 403, node, reason: `not ${host}'s enrolment secret` };
  return { status: 200, node, file, proof: 'bearer' };
}

/** POST /events/<hostname>[/<enrolment>]: whose events these may be. */
export function resolvePoster(plan: ServePlan, hostname: string, enrolment: string | undefined, bearer: string | undefined): PosterOutcome {
  const host = plan.by.hostname.get(hostname);
  if (host === undefined) return { status: 404, reason: `no node ${JSON.stringify(hostname)}` };
  const node = plan.nodes.find((n) => n.hostname === host)!;
  const presented = enrolment ?? bearer;
  if (presented === undefined) return { status: 401, reason: `events of ${host} need its enrolment secret` };
  return proves(presented, node.proof) ? { status: 200, node } : { status: 403, reason: `not ${host}'s enrolment secret` };
}

/**
 * Why a raw request target is refused before routing, or null. The URL parser would quietly
 * resolve "/nodes/a/../b" to "/nodes/b": a request that tries is answered 400 instead, as are
 * encoded separators, backslashes and control characters, which no seed URL contains.
 */
export function badTarget(raw: string): string | null {
  if (!raw.startsWith('/')) return 'the request target is not a path';
  const path = raw.split('?')[0]!;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return 'the path is not valid percent-encoding';
  }
  if (/%2f|%5c|%00/i.test(path) || /[\\\x00-\x1f\x7f]/.test(decoded)) return 'the path holds an encoded separator or a control character';
  if (decoded.split('/').some((s) => s === '..' || s === '.')) return 'the path climbs with "." or ".."';
  return null;
}

/** A path as logs show it: enrolment secrets replaced, so the access log can be read by anyone. */
export const redactPath = (raw: string): string => raw.replace(/\/[0-9a-f]{32}(?=\/|$|\?)/gi, '/<enrolment>');
