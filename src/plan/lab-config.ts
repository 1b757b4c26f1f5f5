import type { Profile } from '../profiles/schema.ts';
import { isPlainObject } from '../profiles/merge.ts';

/**
 * online: the nodes boot their own bases (an x86 node's Ubuntu cloud image) and install the real
 * packages. offline: no Ubuntu image can be had, so every node boots the Debian base imgforge
 * builds from packages (the x86-debian profile), and the lab serves what the nodes download.
 */
export type LabMode = 'online' | 'offline';

/** A node that runs in the lab on another board than its config names, and why: the lab says it out loud. */
export interface Substitution {
  readonly hostname: string;
  readonly board: string;
  readonly runsAs: string;
  readonly why: string;
}

/** The lab's VMs are QEMU x86-64 machines (q35), started by UEFI (OVMF) or legacy BIOS (SeaBIOS). */
export const bootsInLab = (p: Profile): boolean => p.arch === 'amd64' && p.boot.firmware.some((f) => f === 'uefi' || f === 'bios');

const release = (p: Profile | undefined): string => (p ? `${p.base.os.id === 'ubuntu' ? 'Ubuntu' : 'Debian'} ${p.base.os.version}` : 'unknown');

/** Which board a node runs as in the lab; null when it runs as itself. */
export function labBoard(board: string, profiles: ReadonlyMap<string, Profile>, mode: LabMode): Omit<Substitution, 'hostname' | 'board'> | null {
  const own = profiles.get(board);
  if (mode === 'offline') {
    if (board === 'x86-debian') return null;
    return { runsAs: 'x86-debian', why: `offline: ${release(own)} cannot be downloaded here, so an x86-64 VM of Debian 12 built from packages, with the same seed and bundle` };
  }
  if (own && bootsInLab(own)) return null;
  const x86 = profiles.get('x86');
  const same = release(own) === release(x86);
  return {
    runsAs: 'x86',
    why: `QEMU does not emulate the ${own?.title ?? board}: an x86-64 VM of ${release(x86)}${same ? '' : ` (the board's base is ${release(own)})`}, with the same seed and bundle`,
  };
}

/**
 * The config the lab builds from: each substituted node on its lab board, without the overrides
 * and drive it had for its own board (they patch that board's profile: its base, its device
 * name), keeping its disk size, layout, role and addresses. `dns` replaces network.dns when QEMU's
 * resolver needs an address of its own (it cannot share the gateway's).
 */
export function labConfigValue(value: unknown, subs: readonly Substitution[], dns?: readonly string[]): unknown {
  if (!isPlainObject(value)) return value;
  const runsAs = new Map(subs.map((s) => [s.hostname, s.runsAs]));
  const nodes = Array.isArray(value['nodes']) ? (value['nodes'] as unknown[]).map((n) => {
    if (!isPlainObject(n) || typeof n['hostname'] !== 'string' || !runsAs.has(n['hostname'])) return n;
    const { overrides: _overrides, disk, ...rest } = n;
    const size = isPlainObject(disk) ? disk['size'] : undefined;
    return { ...rest, board: runsAs.get(n['hostname']), ...(size === undefined ? {} : { disk: { size } }) };
  }) : value['nodes'];
  const network = dns && isPlainObject(value['network']) ? { ...value['network'], dns: [...dns] } : value['network'];
  return { ...value, nodes, network };
}
