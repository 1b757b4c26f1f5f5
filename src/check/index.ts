import { imgforgeError, type ImgforgeError } from '../errors/error.ts';
import type { CheckContext, Finding, Severity } from './finding.ts';
import { etcdRules } from './rules/etcd.ts';
import { identityRules } from './rules/identity.ts';
import { networkRules } from './rules/network.ts';
import { platformRules } from './rules/platform.ts';
import { secretsRules } from './rules/secrets.ts';
import { storageRules } from './rules/storage.ts';
import { versionRules } from './rules/versions.ts';
import { assemblyRules } from './rules/assembly.ts';
import { mistakeRules } from './rules/mistakes.ts';
import { baseRules } from './rules/base.ts';

const RULES = [identityRules, etcdRules, networkRules, platformRules, versionRules, storageRules, secretsRules, assemblyRules, mistakeRules, baseRules];
const ORDER: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

export interface CheckReport {
  readonly ok: boolean;
  readonly errors: number;
  readonly warnings: number;
  readonly findings: readonly Finding[];
}

/** Every rule over the cluster; pure. Errors first, then warnings, then notes. */
export function checkCluster(ctx: CheckContext): CheckReport {
  const findings = RULES.flatMap((rule) => rule(ctx)).sort((a, b) => ORDER[a.severity] - ORDER[b.severity]);
  const errors = findings.filter((f) => f.severity === 'error').length;
  return { ok: errors === 0, errors, warnings: findings.filter((f) => f.severity === 'warning').length, findings };
}

export type { Finding, Severity, CheckContext } from './finding.ts';

/** The error a command that needs a clean cluster stops with: the errors as its details, and every finding for --json. */
export function findingsError(report: CheckReport): ImgforgeError {
  const errors = report.findings.filter((f) => f.severity === 'error');
  return imgforgeError('Findings', { errors: report.errors }, { details: errors.map((f) => `${f.id}: ${f.message}`), data: { findings: report.findings } });
}
