import type { ResolvedNode } from '../config/resolve.ts';
import { imgforgeError } from '../errors/error.ts';
import { placePartitions, planLayout } from './layout.ts';
import { chooseMachine, type MachineChoice } from './vm-machine.ts';

/** What `imgforge test` was asked, parsed. */
export interface TestRequest {
  readonly diskBytes: number;
  readonly timeoutSeconds: number;
  readonly firmware?: 'uefi' | 'bios' | undefined;
  readonly accel: 'auto' | 'kvm' | 'tcg';
  readonly killAt?: string | undefined;
  readonly plantStale: boolean;
  readonly plantOsd: boolean;
  readonly sshKey?: string | undefined;
  readonly memoryMiB: number;
  readonly cpus: number;
}

/** How the node's image will be booted and what will be done to it; decided without I/O. */
export interface VmTestPlan {
  readonly firmware: 'uefi' | 'bios';
  readonly kvm: boolean;
  /** The QEMU, machine, CPU and firmware files it boots on, and why. */
  readonly machine: MachineChoice;
  readonly diskBytes: number;
  readonly timeoutMs: number;
  readonly memoryMiB: number;
  readonly cpus: number;
  readonly killAt: RegExp | undefined;
  /** A stale signature written where this partition will go, before the first boot. */
  readonly plantStale: { readonly partition: string; readonly offsetBytes: number } | undefined;
  /** After the first boot: an OSD label on this raw partition and /var/lib/imgforge deleted, over SSH. */
  readonly plantOsd: { readonly partition: string; readonly user: string } | undefined;
}

/**
 * Decide the test from the node's profile, the request and what the host can do (`kvmCanRun`
 * for this guest). The image's root start places the stale signature where the layout stage
 * will create the first raw partition.
 */
export function planVmTest(node: ResolvedNode, req: TestRequest, host: { readonly kvm: boolean }, image: { readonly sizeBytes: number; readonly rootFirstLba: number }, sshUser: string | undefined): VmTestPlan {
  const p = node.profile;
  const bootable = p.boot.firmware.filter((f): f is 'uefi' | 'bios' => f === 'uefi' || (f === 'bios' && p.arch === 'amd64'));
  if (bootable.length === 0) {
    throw imgforgeError('Unsupported', { what: `Booting ${node.config.board} images in QEMU (they start from the board's own U-Boot and vendor kernel, which QEMU does not emulate; their seed and layout stage are the ones tested on x86 nodes)` });
  }
  const firmware = req.firmware ?? bootable[0]!;
  if (!bootable.includes(firmware)) throw imgforgeError('BadFlag', { detail: `--firmware ${firmware}: ${node.config.board} images boot in QEMU by ${bootable.join(' or ')}` });
  if (req.diskBytes < image.sizeBytes) throw imgforgeError('BadFlag', { detail: `--disk-size must be at least the image size (${image.sizeBytes} bytes)` });
  let killAt: RegExp | undefined;
  try {
    killAt = req.killAt === undefined ? undefined : new RegExp(req.killAt);
  } catch (e) {
    throw imgforgeError('BadFlag', { detail: `--kill-at takes a regular expression: ${(e as Error).message}` });
  }
  const raw = p.layout.reserved.find((r) => r.format === 'raw');
  if ((req.plantStale || req.plantOsd) && !raw) throw imgforgeError('BadFlag', { detail: `--plant-stale and --plant-osd need a raw reserved partition, and ${node.config.hostname} has none` });
  if (req.plantOsd && (!req.sshKey || !sshUser)) throw imgforgeError('BadFlag', { detail: '--plant-osd works on the running node over SSH: give --ssh-key with the private key of the config\'s first user' });
  let plantStale: VmTestPlan['plantStale'];
  if (req.plantStale && raw) {
    const placed = placePartitions(planLayout(p.layout, req.diskBytes), image.rootFirstLba, req.diskBytes / 512);
    if (typeof placed === 'string') throw imgforgeError('BadFlag', { detail: `--disk-size: ${placed}` });
    plantStale = { partition: raw.name, offsetBytes: placed.find((x) => x.name === raw.name)!.firstLba * 512 };
  }
  const kvm = req.accel === 'auto' ? host.kvm : req.accel === 'kvm';
  return {
    firmware, kvm, machine: chooseMachine(p, firmware, kvm), diskBytes: req.diskBytes, timeoutMs: req.timeoutSeconds * 1000,
    memoryMiB: req.memoryMiB, cpus: req.cpus, killAt, plantStale,
    plantOsd: req.plantOsd && raw && sshUser ? { partition: raw.name, user: sshUser } : undefined,
  };
}
