import { EVENT_PORT } from '../protocol/events.ts';
import { QEMU_MACHINES } from './vm-machine.ts';

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
  /** File QEMU writes the node's event port to (virtio-serial port org.imgforge.events). */
  readonly events: string;
  /**
   * User networking that reaches this host's loopback at 10.0.2.2 (QEMU's "host" address; a seed
   * server there). Otherwise it is restricted (restrict=on): only forwarded ports connect.
   */
  readonly reachHost?: boolean | undefined;
  /** Host port forwarded to the guest's SSH port, on 127.0.0.1 only. */
  readonly sshPort?: number | undefined;
  /**
   * The guest address the SSH port is forwarded to, when the guest moves off the address QEMU's
   * DHCP gave it (10.0.2.15) to its own; QEMU's default otherwise.
   */
  readonly sshGuest?: string | undefined;
  /**
   * Let the node assemble the cluster. Off for a node booted alone (`imgforge test`): SMBIOS type
   * 11 then carries "imgforge.assembly=off", and the node passes over its assembly stages.
   */
  readonly assemble?: boolean;
  /**
   * The lab's shared LAN instead of user networking: UDP datagrams on 127.0.0.1 (QEMU >= 7.2
   * `-netdev dgram`) from this port to the lab switch's. The lab's router forwards SSH, not this VM.
   */
  readonly lan?: { readonly local: number; readonly remote: number } | undefined;
  /** Serial console and event port appended to files instead of stdout (a lab VM runs detached). */
  readonly console?: string | undefined;
  /** More QEMU arguments, e.g. a second drive. */
  readonly extraArgs?: readonly string[];
}

/** A QEMU dgram netdev between two UDP ports of 127.0.0.1. */
export const dgram = (id: string, ports: { readonly local: number; readonly remote: number }): string =>
  `dgram,id=${id},local.type=inet,local.host=127.0.0.1,local.port=${ports.local},remote.type=inet,remote.host=127.0.0.1,remote.port=${ports.remote}`;

/**
 * qemu-system arguments: the architecture's machine and CPU (vm-machine.ts), UEFI from pflash,
 * virtio disk and NIC on user networking restricted to the host, serial console on stdout, the
 * node's event port on virtio-serial.
 * SMBIOS type 11 carries "imgforge.report=1", which makes the node print its report.
 */
export function qemuArgs(vm: VmSpec): string[] {
  const m = QEMU_MACHINES[vm.arch];
  const cpu = vm.kvm ? m.cpu.kvm : m.cpu.tcg;
  return [
    '-machine', m.machine,
    ...(cpu ? ['-cpu', cpu] : []),
    '-accel', vm.kvm ? 'kvm' : 'tcg,thread=multi',
    '-m', String(vm.memoryMiB),
    '-smp', String(vm.cpus),
    ...(vm.firmware === 'uefi' ? [
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${vm.code}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${vm.vars}`,
    ] : []),
    '-drive', `file=${vm.disk},format=qcow2,if=virtio`,
    ...(vm.lan ? [
      '-netdev', dgram('lan', vm.lan),
      '-device', `virtio-net-pci,netdev=lan${vm.mac ? `,mac=${vm.mac}` : ''}`,
    ] : ['-nic', `user,model=virtio-net-pci,restrict=${vm.reachHost ? 'off' : 'on'}${vm.mac ? `,mac=${vm.mac}` : ''}${vm.sshPort ? `,hostfwd=tcp:127.0.0.1:${vm.sshPort}-${vm.sshGuest ?? ''}:22` : ''}`]),
    '-device', 'virtio-rng-pci',
    // The node's events: a virtio-serial port the guest sees as /dev/virtio-ports/<name>, its
    // bytes appended to a file here (a file chardev never blocks the guest when nobody reads).
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', `file,id=events,path=${vm.events}${vm.console ? ',append=on' : ''}`,
    '-device', `virtserialport,bus=vser0.0,chardev=events,name=${EVENT_PORT}`,
    '-smbios', 'type=11,value=imgforge.report=1',
    ...(vm.assemble ? [] : ['-smbios', 'type=11,value=imgforge.assembly=off']),
    '-display', 'none',
    '-monitor', 'none',
    '-qmp', `unix:${vm.qmp},server=on,wait=off`,
    ...(vm.console ? ['-chardev', `file,id=console,path=${vm.console},append=on`, '-serial', 'chardev:console'] : ['-serial', 'stdio', '-no-reboot']),
    ...(vm.extraArgs ?? []),
  ];
}
