/** What one boot of an image under QEMU is given; the argument list is computed without I/O. */
export interface VmSpec {
  readonly arch: 'amd64' | 'arm64';
  readonly firmware: 'uefi' | 'bios';
  readonly disk: string;
  readonly code: string;
  readonly vars: string;
  readonly kvm: boolean;
  readonly memoryMiB: number;
  readonly cpus: number;
  /** The NIC's MAC, so a network-config that matches by MAC finds its interface. */
  readonly mac: string | null;
  /** QMP socket, for a clean power-off. */
  readonly qmp: string;
  /** More QEMU arguments, e.g. a second drive. */
  readonly extraArgs?: readonly string[];
}

/**
 * qemu-system arguments after qemu-recipe.md: q35 (x86) or virt (arm64), UEFI from pflash,
 * virtio disk and NIC on user networking restricted to the host, serial console on stdout.
 * SMBIOS type 11 carries "imgforge.report=1", which makes the node print its report.
 */
export function qemuArgs(vm: VmSpec): string[] {
  const machine = vm.arch === 'amd64' ? ['-machine', 'q35'] : ['-machine', 'virt', '-cpu', vm.kvm ? 'host' : 'max,pauth-impdef=on'];
  return [
    ...machine,
    '-accel', vm.kvm ? 'kvm' : 'tcg,thread=multi',
    '-m', String(vm.memoryMiB),
    '-smp', String(vm.cpus),
    ...(vm.firmware === 'uefi' ? [
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${vm.code}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${vm.vars}`,
    ] : []),
    '-drive', `file=${vm.disk},format=qcow2,if=virtio`,
    '-nic', `user,model=virtio-net-pci,restrict=on${vm.mac ? `,mac=${vm.mac}` : ''}`,
    '-device', 'virtio-rng-pci',
    '-smbios', 'type=11,value=imgforge.report=1',
    '-display', 'none',
    '-monitor', 'none',
    '-qmp', `unix:${vm.qmp},server=on,wait=off`,
    '-serial', 'stdio',
    '-no-reboot',
    ...(vm.extraArgs ?? []),
  ];
}
