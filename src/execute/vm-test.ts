import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { qemuArgs, type VmSpec } from '../plan/vm.ts';
import { createOverlay, qemuIoWrite, requireBiosFirmware, requireFirmware } from '../tools/qemu.ts';
import { boot, type BootResult, type ConsoleLine } from './vm.ts';

/** Console lines that mark boot milestones, in the order a healthy first boot passes them. */
export const MILESTONES: readonly (readonly [string, RegExp])[] = [
  ['firmware', /BdsDxe|UEFI firmware|EFI stub|SeaBIOS/],
  ['kernel', /Linux version \d/],
  ['cloud-init local', /running 'init-local'/],
  ['cloud-init network', /running 'init' at/],
  ['cloud-init config', /running 'modules:config'/],
  ['cloud-init final', /running 'modules:final'/],
  ['first boot complete', /imgforge: first boot complete/],
];

export interface TimelineEntry {
  readonly t: number;
  readonly event: string;
}

/** The milestones and imgforge's stage markers, with when they came. */
export function timeline(lines: readonly ConsoleLine[]): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  const seen = new Set<string>();
  for (const l of lines) {
    for (const [name, re] of MILESTONES) {
      if (!seen.has(name) && re.test(l.text)) { seen.add(name); out.push({ t: l.t, event: name }); }
    }
    const stage = /imgforge: (stage \S+ (?:begin|ok|failed.*)|stage files: .*|layout: .*)$/.exec(l.text);
    if (stage) out.push({ t: l.t, event: stage[1]! });
  }
  return out;
}

export interface VmTestOptions {
  readonly image: string;
  readonly arch: 'amd64' | 'arm64';
  /** UEFI (OVMF/AAVMF from pflash) or legacy BIOS (SeaBIOS, x86 only). */
  readonly firmware: 'uefi' | 'bios';
  readonly diskBytes: number;
  readonly mac: string | null;
  readonly timeoutMs: number;
  readonly kvm: boolean;
  readonly keep: boolean;
  /** Bytes to write into the overlay before the first boot (a stale file system where a partition will go). */
  readonly plant?: { readonly offsetBytes: number; readonly data: Buffer } | undefined;
  /** Cut the power at the first console line matching this during the first boot, then boot again. */
  readonly killAt?: RegExp | undefined;
  readonly onLine?: ((boot: string, line: ConsoleLine) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface BootRecord extends BootResult {
  readonly name: string;
}

/**
 * Boot an image under QEMU on a copy-on-write overlay larger than the image: the first boot to
 * its report (after a power cut and a reboot, when asked), then a second boot of the same disk.
 * The work folder and the VM are gone afterwards, whatever happened, unless `keep`.
 */
export async function runVmTest(opts: VmTestOptions): Promise<{ boots: BootRecord[]; workDir: string | null }> {
  if (opts.firmware === 'bios') requireBiosFirmware();
  const fw = opts.firmware === 'uefi' ? requireFirmware(opts.arch) : null;
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
    const vm: VmSpec = { arch: opts.arch, firmware: opts.firmware, disk, code: fw?.code ?? '', vars, kvm: opts.kvm, memoryMiB: 2048, cpus: 2, mac: opts.mac, qmp: join(work, 'qmp.sock') };
    await writeFile(join(work, 'qemu.args'), `${qemuArgs(vm).join('\n')}\n`);
    const once = async (name: string, doneWhen: RegExp, killWhen?: RegExp): Promise<BootRecord> => {
      // cloud-init's last words on every boot: past them no report will come.
      const giveUpWhen = /Cloud-init v\. \S+ finished at/;
      const r = await boot(vm, { timeoutMs: opts.timeoutMs, doneWhen, giveUpWhen, killWhen, signal: opts.signal, onLine: (l) => opts.onLine?.(name, l) });
      const record = { name, ...r };
      boots.push(record);
      await writeFile(join(work, `${name}.log`), r.lines.map((l) => `[${l.t.toFixed(1)}] ${l.text}`).join('\n'));
      return record;
    };
    const first = await once('first boot', /imgforge: report end first-boot/, opts.killAt);
    if (first.outcome === 'killed' && opts.killAt && !opts.signal?.aborted) {
      const again = await once('boot after power cut', /imgforge: report end first-boot/);
      if (again.outcome !== 'done') return { boots, workDir: opts.keep ? work : null };
    } else if (first.outcome !== 'done') {
      return { boots, workDir: opts.keep ? work : null };
    }
    await once('second boot', /imgforge: report end boot/);
    return { boots, workDir: opts.keep ? work : null };
  } finally {
    if (!opts.keep && existsSync(work)) await rm(work, { recursive: true, force: true });
  }
}
