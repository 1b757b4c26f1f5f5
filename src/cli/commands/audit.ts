import { existsSync } from 'node:fs';
import { audit, type AuditReport } from '../../audit/index.ts';
import { loadCluster } from '../../config/index.ts';
import { loadSecrets } from '../../secrets/store.ts';
import type { SecretsBundle } from '../../secrets/schema.ts';
import { json, type Io } from '../output.ts';
import type { GlobalOptions } from '../context.ts';

/** The cluster's bundle, when the config is at hand: it names the keys found (without it, CA certificates found beside them and kubeadm's file names do). */
async function bundleNear(config: string): Promise<SecretsBundle | undefined> {
  if (!existsSync(config)) return undefined;
  return loadSecrets(await loadCluster(config));
}

function text(r: AuditReport): string {
  const lines = [`${r.target}: ${r.type === 'image' ? 'image' : 'folder'} of ${r.node ?? 'an unknown node'}${r.role ? ` (${r.role})` : ''}${r.cluster ? `, cluster ${r.cluster}` : ''}`];
  lines.push(r.bundle ? '  keys named by the cluster\'s secrets bundle' : '  keys named by the CA certificates found and by file name (no secrets bundle for this cluster at hand)');
  if (!r.keys.length) lines.push('  no private keys');
  for (const k of r.keys) lines.push(`  ${k.kind.padEnd(40)} ${k.algorithm.padEnd(11)} ${k.mode ?? 'raw '}  ${k.where}${k.mode === null ? ` at byte ${k.offset}` : ''}`);
  lines.push(r.ok ? `ok: ${r.keys.length} private key${r.keys.length === 1 ? '' : 's'}, no violations` : `VIOLATIONS:\n${r.violations.map((v) => `  - ${v}`).join('\n')}`);
  return `${lines.join('\n')}\n`;
}

/** imgforge audit <image|folder>...: every private key each carries; exit 1 on a violation. */
export async function auditCommand(targets: readonly string[], opts: GlobalOptions, io: Io): Promise<number> {
  const bundle = await bundleNear(opts.config);
  const reports: AuditReport[] = [];
  for (const t of targets) reports.push(await audit(t, { bundle }));
  if (opts.json) io.out(json(reports.length === 1 ? reports[0] : reports));
  else for (const r of reports) io.out(text(r));
  return reports.every((r) => r.ok) ? 0 : 1;
}
