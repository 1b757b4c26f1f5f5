import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { describeEvent, type Event } from '../protocol/events.ts';
import { qemuArgs, type VmSpec } from '../plan/vm.ts';
import type { MachineChoice } from '../plan/vm-machine.ts';
import { createOverlay, qemuIoWrite, requireFirmwareFiles, requireQemu } from '../tools/qemu.ts';
import { boot, type BootResult, type ConsoleLine, type ReceivedEvent } from './vm.ts';

/** Console lines that mark boot milestones before imgforge's events begin (firmware, kernel, cloud-init). */
export const MILESTONES: readonly (readonly [string, RegExp])[] = [
  ['firmware', /BdsDxe|UEFI firmware|EFI stub|SeaBIOS/],
  ['kernel', /Linux version \d/],
  ['cloud-init local', /running 'init-local'/],
  ['cloud-init network', /running 'init' at/],
  ['cloud-init config', /running 'modules:config'/],
  ['cloud-init final', /running 'modules:final'/],
];

export interface TimelineEntry {
  readonly t: number;
  readonly event: string;
}

/** The console's milestones, once each, and every event the node sent, in the order they came. */
export function timeline(lines: readonly ConsoleLine[], events: readonly ReceivedEvent[] = []): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  const seen = new Set<string>();
  for (const l of lines) {
    for (const [name, re] of MILESTONES) {
      if (!seen.has(name) && re.test(l.text)) { seen.add(name); out.push({ t: l.t, event: name }); }
    }
  }
  for (const e of events) if (e.event.stage !== 'report' || e.event.state !== 'note') out.push({ t: e.t, event: describeEvent(e.event) });
  return out.sort((a, b) => a.t - b.t);
}

/** The node has reported on this boot: its last words. */
export const reported = (e: Event): boolean => e.stage === 'report' && (e.state === 'ok' || e.state === 'fail');
/** Nothing more will come this boot: the bundle was refused. */
const refused = (e: Event): boolean => e.stage === 'bundle' && e.state === 'fail';

export interface VmTestOptions {
  readonly image: string;
  readonly arch: 'amd64' | 'arm64';
  /** The qemu-system and firmware the plan chose: UEFI (OVMF/AAVMF from pflash) or legacy BIOS (SeaBIOS, x86 only). Checked before anything is made. */
  readonly machine: Pick<MachineChoice, 'qemu' | 'pkg' | 'firmware'>;
  readonly diskBytes: number;
  readonly mac: string | null;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly timeoutMs: number;
  readonly kvm: boolean;
  readonly keep: boolean;
  /** Bytes to write into the overlay before the first boot (a stale file system where a partition will go). */
  readonly plant?: { readonly offsetBytes: number; readonly data: Buffer } | undefined;
  /** Cut the power at the first console line matching this during the first boot, then boot again. */
  readonly killAt?: RegExp | undefined;
  /** Forward this host port to the node's SSH port (127.0.0.1 only). */
  readonly sshPort?: number | undefined;
  /** Run against the node once its first boot has reported, before it is powered off. */
  readonly afterFirstBoot?: (() => Promise<void>) | undefined;
  readonly onLine?: ((boot: string, line: ConsoleLine) => void) | undefined;
  readonly onEvent?: ((boot: string, e: ReceivedEvent) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

export type BootName = 'first boot' | 'boot after power cut' | 'second boot';

export interface BootRecord extends BootResult {
  readonly name: BootName;
}

/**
 * Boot an image under QEMU on a copy-on-write overlay larger than the image: the first boot to
 * its report (after a power cut and a reboot, when asked), then a second boot of the same disk.
 * The work folder and the VM are gone afterwards, whatever happened, unless `keep`.
 */
export async function runVmTest(opts: VmTestOptions): Promise<{ boots: BootRecord[]; workDir: string | null }> {
  requireQemu(opts.machine);
  requireFirmwareFiles(opts.machine.firmware);
  const fw = opts.machine.firmware.kind === 'uefi' ? opts.machine.firmware : null;
  const work = await mkdtemp(join(tmpdir(), 'imgforge-vm-'));
  const boots: BootRecord[] = [];
  try {
    const disk = join(work, 'disk.qcow2');
    await createOverlay(opts.image, disk, opts.diskBytes);
    if (opts.plant) {
      const src = join(work, 'plant.bin');
      await writeFile(src, opts.plant.data);
      await qemuIoWrite(disk, 'qcow2', src, opts.plant.offsetBytes, opts.plant.data.length);
    }
    const vars = join(work, 'vars.fd');
    if (fw) await copyFile(fw.vars, vars);
    const spec = (name: BootName): VmSpec => ({
      arch: opts.arch, firmware: opts.machine.firmware.kind, disk, code: fw?.code ?? '', vars, kvm: opts.kvm, memoryMiB: opts.memoryMiB, cpus: opts.cpus,
      mac: opts.mac, qmp: join(work, 'qmp.sock'), events: join(work, `${name.replace(/ /g, '-')}.events`), sshPort: opts.sshPort,
    });
    await writeFile(join(work, 'qemu.args'), `${qemuArgs(spec('first boot')).join('\n')}\n`);
    const once = async (name: BootName, extra: { killWhen?: RegExp | undefined; beforePowerOff?: (() => Promise<void>) | undefined } = {}): Promise<BootRecord> => {
      const r = await boot(spec(name), {
        timeoutMs: opts.timeoutMs, doneOn: reported, giveUpOn: refused, ...extra,
        // cloud-init's last words on every boot: if imgforge has said nothing by then and for a while after, nothing will come.
        giveUpWhen: /Cloud-init v\. \S+ finished at/, signal: opts.signal,
        onLine: (l) => opts.onLine?.(name, l), onEvent: (e) => opts.onEvent?.(name, e),
      });
      const record = { name, ...r };
      boots.push(record);
      await writeFile(join(work, `${name.replace(/ /g, '-')}.log`), r.lines.map((l) => `[${l.t.toFixed(1)}] ${l.text}\n`).join(''));
      return record;
    };
    const first = await once('first boot', { killWhen: opts.killAt, beforePowerOff: opts.afterFirstBoot });
    if (first.outcome === 'killed' && opts.killAt && !opts.signal?.aborted) {
      const again = await once('boot after power cut', { beforePowerOff: opts.afterFirstBoot });
      if (again.outcome !== 'done') return { boots, workDir: opts.keep ? work : null };
    } else if (first.outcome !== 'done') {
      return { boots, workDir: opts.keep ? work : null };
    }
    await once('second boot');
    return { boots, workDir: opts.keep ? work : null };
  } finally {
    if (!opts.keep && existsSync(work)) await rm(work, { recursive: true, force: true });
  }
}
