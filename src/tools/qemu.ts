import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { imgforgeError } from '../errors/error.ts';
import { requireCommand, run, type Tool } from './run.ts';

const QEMU_IMG: Tool = { command: 'qemu-img', pkg: 'qemu-utils' };
const QEMU_IO: Tool = { command: 'qemu-io', pkg: 'qemu-utils' };
export const QEMU_SYSTEM: Readonly<Record<'amd64' | 'arm64', Tool>> = {
  amd64: { command: 'qemu-system-x86_64', pkg: 'qemu-system-x86' },
  arm64: { command: 'qemu-system-aarch64', pkg: 'qemu-system-arm' },
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

/** UEFI firmware as Debian packages it: the code (read-only) and a template of the variable store. */
export const UEFI_FIRMWARE = {
  amd64: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd', pkg: 'ovmf' },
  arm64: { code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: '/usr/share/AAVMF/AAVMF_VARS.fd', pkg: 'qemu-efi-aarch64' },
} as const;

/** SeaBIOS, the PC BIOS QEMU loads by default for x86 machines (Debian package seabios). */
export const BIOS_FIRMWARE = { file: '/usr/share/seabios/bios-256k.bin', pkg: 'seabios' } as const;

export function requireBiosFirmware(): void {
  if (!existsSync(BIOS_FIRMWARE.file)) throw imgforgeError('ToolMissing', { tool: BIOS_FIRMWARE.file, pkg: BIOS_FIRMWARE.pkg });
}

export function requireFirmware(arch: 'amd64' | 'arm64'): { code: string; vars: string } {
  const fw = UEFI_FIRMWARE[arch];
  if (!existsSync(fw.code) || !existsSync(fw.vars)) throw imgforgeError('ToolMissing', { tool: fw.code, pkg: fw.pkg });
  return fw;
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
