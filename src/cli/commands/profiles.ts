import { BUILTIN_PROFILE_DIR, loadProfileFiles } from '../../profiles/load.ts';
import { resolveProfiles } from '../../profiles/resolve.ts';
import { formatAmount } from '../../util/size.ts';
import { json, type Io } from '../output.ts';
import type { GlobalOptions } from '../context.ts';

/** imgforge profiles: the board profiles shipped with imgforge. */
export async function profilesCommand(opts: GlobalOptions, io: Io): Promise<number> {
  const profiles = resolveProfiles(await loadProfileFiles([BUILTIN_PROFILE_DIR]));
  const rows = [...profiles.values()].map((p) => ({
    name: p.name,
    title: p.title,
    arch: p.arch,
    base: p.base.download?.url ?? `bootstrap ${p.base.bootstrap?.suite}`,
    baseOs: `${p.base.os.id} ${p.base.os.version}`,
    facts: p.base.facts,
    checksum: p.base.download?.sha256 ? 'pinned sha256' : p.base.download?.sha256sums ? `SHA256SUMS ${p.base.download.sha256sums}` : `none published: ${p.base.download?.unverifiedReason ?? 'built locally'}`,
    firmware: p.boot.firmware,
    console: p.boot.console,
    disk: p.disk,
    layout: { root: formatAmount(p.layout.root.size), reserved: p.layout.reserved.map((r) => `${r.name} ${formatAmount(r.size)} ${r.format}`) },
    bootNotes: p.boot.notes,
  }));
  if (opts.json) {
    io.out(json(rows));
    return 0;
  }
  for (const r of rows) {
    io.out(`${r.name} (${r.arch}): ${r.title}\n  base: ${r.baseOs}, ${r.base}\n  checksum: ${r.checksum}\n`);
    io.out(`  runs: kernel ${r.facts.kernel}, cgroup ${r.facts.cgroup}, cloud-init ${r.facts.cloudInit}; booted by ${r.facts.bootedBy}\n`);
    io.out(`  boot: ${r.firmware.join('+')}, console ${r.console}; disk ${r.disk.device} (${r.disk.media})\n`);
    io.out(`  layout: root ${r.layout.root}${r.layout.reserved.map((x) => `, ${x}`).join('')}\n`);
    for (const note of r.bootNotes) io.out(`  - ${note}\n`);
    io.out('\n');
  }
  return 0;
}
