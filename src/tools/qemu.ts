import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { imgforgeError } from '../errors/error.ts';
import { QEMU_MACHINES, type MachineChoice } from '../plan/vm-machine.ts';
import { requireCommand, run, type Tool } from './run.ts';

const QEMU_IMG: Tool = { command: 'qemu-img', pkg: 'qemu-utils' };
const QEMU_IO: Tool = { command: 'qemu-io', pkg: 'qemu-utils' };
export const QEMU_SYSTEM: Readonly<Record<'amd64' | 'arm64', Tool>> = {
  amd64: { command: QEMU_MACHINES.amd64.command, pkg: QEMU_MACHINES.amd64.pkg },
  arm64: { command: QEMU_MACHINES.arm64.command, pkg: QEMU_MACHINES.arm64.pkg },
};

/** What decides whether KVM can run a guest, read off the host by kvmUsable. */
export interface KvmHost {
  /** Node's process.arch ("x64", "arm64"). */
  readonly arch: string;
  /** /dev/kvm exists and opens for reading and writing. */
  readonly devKvm: boolean;
  /** /proc/cpuinfo's text ("" when unreadable). */
  readonly cpuinfo: string;
}

/**
 * KVM runs a guest of the host's own architecture only, needs /dev/kvm, and on x86 the CPU's
 * virtualization extension (vmx or svm in cpuinfo's flags), which kvm_intel and kvm_amd need. Some
 * sandboxes expose a /dev/kvm without it: QEMU starts there but the guest never runs.
 */
export function kvmCanRun(guest: 'amd64' | 'arm64', host: KvmHost): boolean {
  if ((host.arch === 'x64' ? 'amd64' : host.arch) !== guest || !host.devKvm) return false;
  return guest !== 'amd64' || /^flags\s*:.*\b(vmx|svm)\b/m.test(host.cpuinfo);
}

/** Whether KVM can run this guest on this machine (kvmCanRun on the host's own facts). */
export function kvmUsable(guest: 'amd64' | 'arm64'): boolean {
  let devKvm = true;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    devKvm = false;
  }
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // No cpuinfo: no vmx/svm to be seen, so TCG.
  }
  return kvmCanRun(guest, { arch: process.arch, devKvm, cpuinfo });
}

/** The architecture's UEFI firmware (code and variable store template), or an environment error naming its package. */
export function requireFirmware(arch: 'amd64' | 'arm64'): { code: string; vars: string } {
  const fw = QEMU_MACHINES[arch].uefi;
  requireFirmwareFiles({ kind: 'uefi', ...fw });
  return fw;
}

/** The firmware files a plan chose exist, or an environment error names the missing one and its package. */
export function requireFirmwareFiles(fw: MachineChoice['firmware']): void {
  for (const file of fw.kind === 'uefi' ? [fw.code, fw.vars] : [fw.file]) {
    if (!existsSync(file)) throw imgforgeError('ToolMissing', { tool: file, pkg: fw.pkg });
  }
}

/** The qemu-system a plan chose is on PATH, or an environment error names its package. */
export function requireQemu(choice: Pick<MachineChoice, 'qemu' | 'pkg'>): void {
  requireCommand({ command: choice.qemu, pkg: choice.pkg });
}

/** A copy-on-write overlay: the VM writes here, the image is never changed (qemu-img(1) "create -b"). */
export async function createOverlay(image: string, overlay: string, sizeBytes: number): Promise<void> {
  await run(QEMU_IMG, ['create', '-q', '-f', 'qcow2', '-b', image, '-F', 'raw', overlay, String(sizeBytes)]);
}

/** Write a file's bytes into a disk image at an offset (qemu-io "write -s"), e.g. to plant a stale signature. */
export async function qemuIoWrite(image: string, format: 'qcow2' | 'raw', source: string, offsetBytes: number, length: number): Promise<void> {
  await run(QEMU_IO, ['-f', format, '-c', `write -q -s ${source} ${offsetBytes} ${length}`, image]);
}

/** Start a VM with its serial console on stdout; a missing QEMU is an environment error naming its package. */
export function spawnQemu(arch: 'amd64' | 'arm64', args: readonly string[]): ResultPromise<{ buffer: false; stdout: 'pipe'; stderr: 'pipe'; stdin: 'ignore'; reject: false }> {
  requireCommand(QEMU_SYSTEM[arch]);
  return execa(QEMU_SYSTEM[arch].command, args, { buffer: false, stdout: 'pipe', stderr: 'pipe', stdin: 'ignore', reject: false });
}

/**
 * Start an x86-64 QEMU (a lab VM or the lab's hub) that outlives this process: its own session,
 * working folder `cwd`, its output appended to `log` (relative to `cwd`). Returns its pid.
 */
export function startDetachedQemu(args: readonly string[], cwd: string, log: string): number {
  requireCommand(QEMU_SYSTEM.amd64);
  const fd = openSync(resolve(cwd, log), 'a');
  try {
    const child = spawn(QEMU_SYSTEM.amd64.command, args, { cwd, detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    return child.pid!;
  } finally {
    closeSync(fd);
  }
}

/**
 * Ask the guest to power off through QMP (system_powerdown sends an ACPI power button press), so
 * it syncs its disks like a node shut down cleanly. Resolves once QEMU has taken the request;
 * rejects when the socket closes first or nothing answers within timeoutMs.
 */
export async function qmpPowerdown(socket: string, timeoutMs = 10_000): Promise<void> {
  const { connect } = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const c = connect(socket);
    let greeted = false, settled = false;
    const done = (e?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      c.destroy();
      if (e) reject(e); else resolve();
    };
    const timer = setTimeout(() => done(new Error(`QMP at ${socket} did not answer within ${timeoutMs} ms`)), timeoutMs);
    let text = '';
    c.on('data', (d) => {
      text += d.toString();
      if (!greeted && text.includes('"QMP"')) {
        greeted = true;
        text = '';
        c.write('{"execute":"qmp_capabilities"}\n{"execute":"system_powerdown"}\n');
      } else if (greeted && (text.match(/"return"/g) ?? []).length >= 2) {
        done();
      }
    });
    c.on('error', (e) => done(e));
    c.on('close', () => done(new Error(`QMP at ${socket} closed before the power-off was taken`)));
  });
}
