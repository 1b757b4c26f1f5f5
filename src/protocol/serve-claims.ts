/**
 * Claims: how a node booted from a generic image (the same bytes on every drive, no per-node
 * secret) is given its enrolment secret once the user approves it. The node makes a random claim
 * token and polls `POST /claims/<hostname>` with it; the server keeps only the token's SHA-256,
 * in claims.jsonl; `imgforge approve` (or `serve --approve-first`) appends to approvals.jsonl;
 * the next poll with the approved token is answered with the secret. One approved claim per node:
 * a claim with another token is then refused, and shown, so a machine that claims first in a
 * spoofer's place is seen rather than silent. These are the records both sides read (pure).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** A claim token as the node makes it: hex, 128 to 512 bits. */
export const CLAIM_TOKEN = /^[0-9a-f]{32,128}$/;
/** Seconds a node is told to wait between polls while its claim is pending. */
export const CLAIM_RETRY_SECONDS = 10;
/** Claims kept per node: a later new token is refused (429), so a flood of tokens cannot grow the state without end. */
export const CLAIMS_PER_NODE = 100;

/** What the node may say of itself with a claim: shown to the user who approves it, never trusted. */
export const ClaimBody = z.strictObject({
  mac: z.string().max(128).optional(),
  uuid: z.string().max(128).optional(),
  serial: z.string().max(128).optional(),
});
export type ClaimBody = z.output<typeof ClaimBody>;

/** One line of claims.jsonl: a claim as first posted. */
export const ClaimRecord = ClaimBody.extend({
  host: z.string(),
  tokenSha256: z.string().regex(/^[0-9a-f]{64}$/),
  address: z.string(),
  time: z.string(),
});
export type ClaimRecord = z.output<typeof ClaimRecord>;

/** One line of approvals.jsonl: the claim (its token's SHA-256) approved for a node, and by whom. */
export const ApprovalRecord = z.strictObject({
  host: z.string(),
  claim: z.string().regex(/^[0-9a-f]{64}$/),
  time: z.string(),
  by: z.enum(['user', 'approve-first']),
});
export type ApprovalRecord = z.output<typeof ApprovalRecord>;

export const ClaimState = z.enum(['pending', 'approved', 'refused']);
export type ClaimState = z.output<typeof ClaimState>;

/** A claim as /status.json shows it. */
export const ClaimStatus = z.strictObject({ id: z.string(), state: ClaimState, address: z.string(), time: z.string() });
export type ClaimStatus = z.output<typeof ClaimStatus>;

export const tokenSha256 = (token: string): string => createHash('sha256').update(token).digest('hex');
/** A claim's name for people: the first 12 hex digits of its token's SHA-256 (the token itself is never shown). */
export const claimId = (sha: string): string => sha.slice(0, 12);

/** The approved claim of each node: the first approval of a node counts, later ones for another claim do not. */
export function approvedByHost(approvals: readonly ApprovalRecord[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of approvals) if (!out.has(a.host)) out.set(a.host, a.claim);
  return out;
}

/** A claim's state: approved when it is the node's approved claim, refused when the node has another, else pending. */
export function claimState(claim: Pick<ClaimRecord, 'host' | 'tokenSha256'>, approved: ReadonlyMap<string, string>): ClaimState {
  const a = approved.get(claim.host);
  return a === undefined ? 'pending' : a === claim.tokenSha256 ? 'approved' : 'refused';
}

/** "mac .., uuid .., serial .." as the node said them, or "no identifiers". */
export const claimIds = (c: ClaimBody): string =>
  [c.mac && `mac ${c.mac}`, c.uuid && `uuid ${c.uuid}`, c.serial && `serial ${c.serial}`].filter(Boolean).join(', ') || 'no identifiers';

/**
 * A claim as `imgforge status` and the live page print it under its node (plain JavaScript: the
 * page's script is given its source).
 */
export function claimLine(host: string, c: { id: string; state: string; address: string }): string {
  return 'claim ' + c.id + ' from ' + c.address + ' ' + c.state + (c.state === 'pending' ? ': imgforge approve ' + host + ' ' + c.id : '');
}

/** JSON lines, each checked; a line that does not parse or fit (a torn last line) is skipped. */
export function parseLines<T>(text: string, schema: z.ZodType<T>): T[] {
  return text.split('\n').flatMap((l) => {
    try {
      const r = l.trim() ? schema.safeParse(JSON.parse(l)) : undefined;
      return r?.success ? [r.data] : [];
    } catch {
      return [];
    }
  });
}
