/**
 * The QEMU machine a node's image boots on (`imgforge test`, the lab): which qemu-system, machine,
 * CPU and firmware, each with the Debian package that ships it and why it was chosen. Pure data
 * and a pure choice: the plan prints it, the executor checks the files it names exist.
 */
import type { Profile } from '../profiles/schema.ts';

/** How QEMU runs guests of one architecture. */
export interface QemuMachine {
  /** The qemu-system program. */
  readonly command: string;
  /** The Debian package that ships it. */
  readonly pkg: string;
  /** -machine. */
  readonly machine: string;
  /** -cpu under TCG and under KVM; absent: the machine's default. */
  readonly cpu: { readonly tcg?: string; readonly kvm?: string };
  /** UEFI firmware: the code, read-only in pflash unit 0, and the variable store a VM gets a copy of in unit 1. */
  readonly uefi: { readonly code: string; readonly vars: string; readonly pkg: string };
  /** The kernel's name for the machine's first UART, where the console goes. */
  readonly console: string;
  /** Why this machine, CPU and firmware. */
  readonly why: readonly string[];
}

export const QEMU_MACHINES: Readonly<Record<Profile['arch'], QemuMachine>> = {
  amd64: {
    command: 'qemu-system-x86_64', pkg: 'qemu-system-x86', machine: 'q35', cpu: {},
    uefi: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd', pkg: 'ovmf' },
    console: 'ttyS0',
    why: [
      'q35: a PC with PCIe and a 16550 UART (ttyS0), as the x86-64 PCs the profiles describe',
      'OVMF (edk2 for x86-64) from Debian\'s ovmf, its 4 MiB build with room for a variable store',
    ],
  },
  arm64: {
    command: 'qemu-system-aarch64', pkg: 'qemu-system-arm', machine: 'virt', cpu: { tcg: 'max,pauth-impdef=on', kvm: 'host' },
    uefi: { code: '/usr/share/AAVMF/AAVMF_CODE.fd', vars: '/usr/share/AAVMF/AAVMF_VARS.fd', pkg: 'qemu-efi-aarch64' },
    console: 'ttyAMA0',
    why: [
      'virt: QEMU\'s machine for Arm guests booted by UEFI from virtio devices, with a PL011 UART (ttyAMA0); QEMU emulates no ODROID or other Rockchip board (QEMU docs/system/arm/virt.rst)',
      '-cpu max,pauth-impdef=on under TCG: every Armv8/v9 feature TCG emulates, with pointer authentication by QEMU\'s cheap non-cryptographic algorithm instead of the architected QARMA5, which took up to half the guest\'s time under TCG; QEMU 10.0 made impdef the default, Debian 12 has 7.2 (QEMU docs/system/arm/cpu-features.rst). Under KVM: -cpu host',
      'AAVMF (edk2 ArmVirtQemu) from Debian\'s qemu-efi-aarch64: virt\'s two flash banks are 64 MiB each and QEMU refuses a smaller pflash image, so Debian ships AAVMF_CODE.fd and AAVMF_VARS.fd padded to 64 MiB (QEMU_EFI.fd, 2 MiB, is for -bios)',
    ],
  },
};

/** SeaBIOS, the PC BIOS QEMU loads by default for x86 machines. */
export const SEABIOS = { file: '/usr/share/seabios/bios-256k.bin', pkg: 'seabios' } as const;

/** The machine a test boots, as the plan shows it. */
export interface MachineChoice {
  readonly qemu: string;
  readonly pkg: string;
  readonly machine: string;
  readonly cpu: string | null;
  readonly accel: 'kvm' | 'tcg';
  readonly firmware:
    | { readonly kind: 'uefi'; readonly code: string; readonly vars: string; readonly pkg: string }
    | { readonly kind: 'bios'; readonly file: string; readonly pkg: string };
  /** Where the console is: the machine's first UART. */
  readonly console: string;
  /** Said when QEMU runs the node on another machine than its board: what that leaves untested. */
  readonly substitute: string | null;
  readonly why: readonly string[];
}

/**
 * The machine for a node of this profile. A profile that names a device tree is a board QEMU
 * does not emulate (an ODROID's RK3568): its image boots on the generic machine of its
 * architecture instead, by the same UEFI path, and the plan says so.
 */
export function chooseMachine(p: Pick<Profile, 'name' | 'title' | 'arch' | 'boot'>, firmware: 'uefi' | 'bios', kvm: boolean): MachineChoice {
  const m = QEMU_MACHINES[p.arch];
  const cpu = (kvm ? m.cpu.kvm : m.cpu.tcg) ?? null;
  return {
    qemu: m.command, pkg: m.pkg, machine: m.machine, cpu, accel: kvm ? 'kvm' : 'tcg',
    firmware: firmware === 'uefi' ? { kind: 'uefi', ...m.uefi } : { kind: 'bios', ...SEABIOS },
    console: m.console,
    substitute: p.boot.deviceTree === undefined ? null
      : `${p.name} (${p.title}) runs as QEMU's ${m.machine} machine: QEMU does not emulate the board, so this tests the image's UEFI boot, kernel, seed and first-boot stages, not the board's own firmware, device tree (${p.boot.deviceTree}), drivers or console (${p.boot.console}; here ${m.console})`,
    why: m.why,
  };
}

/** The choice as `imgforge test` prints it before booting: the command, the firmware, the substitution, the reasons. */
export function describeMachine(host: string, c: MachineChoice): string[] {
  const fw = c.firmware.kind === 'uefi' ? `UEFI from ${c.firmware.code} with a copy of ${c.firmware.vars}` : `legacy BIOS from ${c.firmware.file}`;
  return [
    `${host} boots on ${c.qemu} -machine ${c.machine}${c.cpu ? ` -cpu ${c.cpu}` : ''} (${c.accel.toUpperCase()}), ${fw} (${c.firmware.pkg}); console ${c.console}`,
    ...(c.substitute ? [`  instead of its board: ${c.substitute}`] : []),
    ...c.why.map((w) => `  why: ${w}`),
  ];
}
