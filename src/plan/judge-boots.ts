import type { Layout } from '../config/schema/layout.ts';
import type { Event } from '../protocol/events.ts';
import type { SeedContext } from './context.ts';
import { judgeReport, judgeSecrets, judgeStages, judgeUnchanged, reportOf, type Verdict } from './judge.ts';
import type { StagePlan } from './stages.ts';
import type { VmTestPlan } from './vm-test.ts';

/** What a boot left to judge: how it ended, its events, its last console lines. */
export interface BootEvidence {
  readonly name: 'first boot' | 'boot after power cut' | 'second boot';
  readonly outcome: 'done' | 'killed' | 'exited' | 'timeout';
  readonly events: readonly Event[];
  readonly lastLines: readonly string[];
  /** What went wrong in the work done over SSH after the boot. */
  readonly hookError?: string | undefined;
}

export type BootVerdict = Verdict & { readonly boot: string };

/** Every verdict on a test run, from its boots' events. Pure. */
export function judgeBoots(ctx: SeedContext, layout: Layout, stages: readonly StagePlan[], plan: VmTestPlan, boots: readonly BootEvidence[],
  secrets: readonly { readonly path: string; readonly mode: number }[] = []): BootVerdict[] {
  const out: BootVerdict[] = [];
  const say = (boot: string, v: Verdict): void => { out.push({ boot, ...v }); };
  for (const b of boots) {
    if (b.outcome === 'killed' && plan.killAt && b.name === 'first boot') continue;
    if (b.outcome !== 'done') {
      const failed = b.events.find((e) => e.state === 'fail');
      say(b.name, { check: 'boot', ok: false, detail: `${b.outcome}${failed ? ` after ${failed.stage} failed: ${failed.msg ?? ''}` : ''}; last lines:\n${b.lastLines.map((l) => `      ${l}`).join('\n')}` });
      continue;
    }
    const report = reportOf(b.events);
    if (!report) {
      say(b.name, { check: 'report', ok: false, detail: 'the node did not finish its report' });
      continue;
    }
    const osd = b.name === 'second boot' ? plan.plantOsd?.partition : undefined;
    for (const v of judgeReport(ctx, layout, report, plan.firmware)) {
      // The second boot's raw partition now holds the OSD label planted on purpose: judged below.
      if (osd && v.check === `partition ${osd} raw`) continue;
      say(b.name, v);
    }
    for (const v of judgeSecrets(secrets, report)) say(b.name, v);
    for (const v of judgeStages(stages, b.events)) say(b.name, v);
    if (b.name === 'second boot') say(b.name, judgeUnchanged(b.events));
    if (osd) {
      const fs = report.find((f) => f[0] === 'part' && f[1] === osd)?.[4];
      say(b.name, { check: `partition ${osd} keeps its OSD`, ok: fs === 'ceph_bluestore', detail: `after /var/lib/imgforge was deleted: ${fs === 'ceph_bluestore' ? 'BlueStore label intact' : `signature ${fs ?? 'none'}`}` });
    }
    if (plan.plantOsd && b.name !== 'second boot') {
      say(b.name, { check: `ssh as ${plan.plantOsd.user}, OSD label planted`, ok: !b.hookError, detail: b.hookError ?? 'logged in with the key, wrote the label, deleted /var/lib/imgforge' });
    }
  }
  return out;
}
