import { count } from '../../check/finding.ts';
import { formatFinding, json, type Io } from '../output.ts';
import { loadAndCheck, type GlobalOptions } from '../context.ts';

/** imgforge check: exit 0 when the cluster has no errors, 1 when it has. */
export async function checkCommand(opts: GlobalOptions, io: Io): Promise<number> {
  const { cluster, report } = await loadAndCheck(opts);
  if (opts.json) {
    io.out(json({ config: cluster.path, ...report }));
  } else {
    for (const f of report.findings) io.out(`${formatFinding(f)}\n`);
    io.out(`${report.ok ? 'ok' : 'failed'}: ${count(cluster.config.nodes.length, 'node')}, ${count(report.errors, 'error')}, ${count(report.warnings, 'warning')}\n`);
  }
  return report.ok ? 0 : 1;
}
