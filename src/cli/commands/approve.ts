/**
 * `imgforge approve <node> [claim-id]`: approve the claim of a machine booted from a generic
 * image, so that `imgforge serve` answers its next poll with the node's enrolment secret. It reads
 * the server's state folder (claims.jsonl) and appends to approvals.jsonl, which the running
 * server reads again before it judges a claim: the two never talk, and a restart keeps both.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCluster } from '../../config/index.ts';
import { imgforgeError } from '../../errors/error.ts';
import {
  approvedByHost, ApprovalRecord, CLAIM_RETRY_SECONDS, claimId, claimIds, ClaimRecord, claimState, parseLines,
} from '../../protocol/serve-claims.ts';
import type { GlobalOptions } from '../context.ts';
import { json, type Io } from '../output.ts';
import { serveStateDir } from './serve.ts';

export interface ApproveFlags {
  /** The state folder of `imgforge serve` (default: .imgforge/serve beside the config, as serve's). */
  readonly stateDir?: string;
}

const describe = (c: ClaimRecord): string => `${claimId(c.tokenSha256)} from ${c.address} (${claimIds(c)}) at ${c.time}`;

/** The claim to approve: the one named, else the node's only pending one; refused (exit 2) otherwise. */
function choose(node: string, id: string | undefined, claims: readonly ClaimRecord[], approved: ReadonlyMap<string, string>): ClaimRecord {
  const approvedId = approved.has(node) ? claimId(approved.get(node)!) : undefined;
  if (id !== undefined) {
    const named = claims.find((c) => claimId(c.tokenSha256) === id.toLowerCase());
    if (!named) throw imgforgeError('ClaimNotFound', { node, id, known: claims.map((c) => claimId(c.tokenSha256)).join(', ') || 'none' });
    if (claimState(named, approved) === 'refused') {
      throw imgforgeError('ClaimNonePending', { node, detail: `claim ${id} is refused, as ${node} already has an approved claim ${approvedId}` });
    }
    return named;
  }
  const pending = claims.filter((c) => claimState(c, approved) === 'pending');
  if (pending.length === 0) {
    throw imgforgeError('ClaimNonePending', { node, detail: approvedId ? `its claim ${approvedId} is approved already (claims with another token are refused)` : 'no machine has claimed it' });
  }
  if (pending.length > 1) throw imgforgeError('ClaimAmbiguous', { node, count: pending.length }, { details: pending.map(describe) });
  return pending[0]!;
}

/** imgforge approve: append the approval; the node gets its secret at its next poll. */
export async function approveCommand(node: string, id: string | undefined, opts: GlobalOptions & ApproveFlags, io: Io): Promise<number> {
  const cluster = await loadCluster(opts.config);
  const hosts = cluster.nodes.map((n) => n.config.hostname);
  if (!hosts.includes(node)) throw imgforgeError('UnknownNode', { node, known: hosts.join(', ') });
  const dir = serveStateDir(opts);
  const read = (file: string): Promise<string> => readFile(join(dir, file), 'utf8').catch(() => '');
  const approvals = await read('approvals.jsonl');
  const approved = approvedByHost(parseLines(approvals, ApprovalRecord));
  // A claim is one line, written once; a repeat would be the same claim.
  const claims = parseLines(await read('claims.jsonl'), ClaimRecord).filter((c, i, all) => c.host === node && all.findIndex((x) => x.host === node && x.tokenSha256 === c.tokenSha256) === i);
  const claim = choose(node, id, claims, approved);
  const cid = claimId(claim.tokenSha256);
  const already = claimState(claim, approved) === 'approved';
  if (!already) {
    const record: ApprovalRecord = { host: node, claim: claim.tokenSha256, time: new Date().toISOString(), by: 'user' };
    // A line of its own, even after a line torn by a crash.
    await appendFile(join(dir, 'approvals.jsonl'), `${approvals && !approvals.endsWith('\n') ? '\n' : ''}${JSON.stringify(record)}\n`, { mode: 0o600 });
  }
  if (opts.json) {
    io.out(json({ node, claim: cid, address: claim.address, mac: claim.mac ?? null, uuid: claim.uuid ?? null, serial: claim.serial ?? null, time: claim.time, already }));
    return 0;
  }
  io.out(`${already ? 'already approved' : 'approved'}: ${node}'s claim ${describe(claim)}\n`);
  io.out(`${node} gets its enrolment secret at its next poll (every ${CLAIM_RETRY_SECONDS} s) from the imgforge serve whose state is ${dir}; claims with another token are refused\n`);
  return 0;
}
