import { VERSION } from './version.ts';
import { loadCluster, type Cluster } from '../config/index.ts';
import { loadCompatibility } from '../check/compat.ts';
import { checkCluster, type CheckReport } from '../check/index.ts';
import { loadPackageSources } from '../plan/packages.ts';
import { loadTemplates } from '../render/templates.ts';
import { planCluster, type PlanInputs, type PlanResult } from '../plan/index.ts';
import { loadRuntime } from '../render/runtime.ts';

export { VERSION } from './version.ts';

/** Options every command shares. */
export interface GlobalOptions {
  readonly config: string;
  readonly json: boolean;
  readonly debug: boolean;
}

/** FAT's epoch (1980-01-01), used when SOURCE_DATE_EPOCH is unset: builds stay reproducible either way. */
const DEFAULT_EPOCH = 315532800;

/** SOURCE_DATE_EPOCH (reproducible-builds.org), the only time that goes into an image. */
export function sourceDateEpoch(): number {
  const text = process.env['SOURCE_DATE_EPOCH'];
  return text && /^\d+$/.test(text) ? Number(text) : DEFAULT_EPOCH;
}

/** Today as YYYY-MM-DD, from SOURCE_DATE_EPOCH when set (reproducible runs), else the clock. */
export function today(): string {
  const epoch = process.env['SOURCE_DATE_EPOCH'];
  const ms = epoch && /^\d+$/.test(epoch) ? Number(epoch) * 1000 : Date.now();
  return new Date(ms).toISOString().slice(0, 10);
}

/** The I/O half of load -> validate -> check -> plan; each step after loading is pure. */
export async function loadAndCheck(opts: GlobalOptions): Promise<{ cluster: Cluster; report: CheckReport }> {
  const cluster = await loadCluster(opts.config);
  const report = checkCluster({ cluster, compat: await loadCompatibility(), packages: await loadPackageSources(), today: today() });
  return { cluster, report };
}

/** What planning reads besides the config: the templates and the node runtime shipped with imgforge. */
export async function planInputs(extra: Partial<PlanInputs> = {}): Promise<PlanInputs> {
  return { templates: await loadTemplates(), runtime: await loadRuntime(), packages: await loadPackageSources(), version: VERSION, ...extra };
}

export async function loadPlan(cluster: Cluster, targets: readonly string[], extra: Partial<PlanInputs> = {}): Promise<PlanResult> {
  return planCluster(cluster, targets, await planInputs(extra));
}
