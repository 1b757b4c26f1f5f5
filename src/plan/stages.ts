/**
 * The first-boot stage graph of one node, composed by role and options the way Talos's sequencer
 * builds its phases (append a stage; append one only when a condition holds). Each stage is a
 * static script in runtime/usr/local/lib/imgforge/stages/, run by systemd as
 * imgforge-<name>.service: check, apply, check again, with the timeout and retries given here.
 */
import type { Layout } from '../config/schema/layout.ts';

export interface RetryPolicy {
  /** Tries in one boot, the first included. */
  readonly attempts: number;
  /** Wait before the second try; doubled before each later one, up to maxDelaySeconds. */
  readonly delaySeconds: number;
  readonly maxDelaySeconds: number;
}

export interface StagePlan {
  readonly name: string;
  readonly description: string;
  /** Stages that must have succeeded first (systemd Requires= and After=): this one does not run if one failed. */
  readonly requires: readonly string[];
  /** Ordering only (After=): stages or systemd units this one waits for, whatever their result. */
  readonly after: readonly string[];
  /** How the stage observes, on the machine, that its work is already done; then it changes nothing. */
  readonly done: string;
  /** systemd stops the stage after this long (TimeoutStartSec=); the stage then fails. */
  readonly timeoutSeconds: number;
  readonly retry: RetryPolicy;
  /** Whether the stage can destroy data; `done` and the script say what keeps it from doing so twice. */
  readonly destructive: boolean;
}

/** What the sequencer decides from: the parts of a node's config that add stages. */
export interface StageFacts {
  readonly layout: Layout;
}

const ONCE: RetryPolicy = { attempts: 1, delaySeconds: 0, maxDelaySeconds: 0 };

class Sequence {
  readonly #stages: StagePlan[] = [];

  append(stage: StagePlan): this {
    const known = new Set(this.#stages.map((s) => s.name));
    for (const r of stage.requires) if (!known.has(r)) throw new Error(`stage ${stage.name} requires ${r}, which is not before it`);
    this.#stages.push(stage);
    return this;
  }

  appendWhen(condition: boolean, stage: () => StagePlan): this {
    return condition ? this.append(stage()) : this;
  }

  get stages(): readonly StagePlan[] {
    return this.#stages;
  }
}

/** The stages of one node, in an order that respects every requirement. Pure. */
export function planStages(facts: StageFacts): StagePlan[] {
  const reserved = facts.layout.reserved;
  const ext4 = reserved.filter((r) => r.format === 'ext4');
  const seq = new Sequence()
    .append({
      name: 'layout',
      description: 'moves the backup GPT to the disk end, creates the reserved partitions after root (new ones wiped, ext4 ones formatted), grows root and its file system to root\'s declared end',
      requires: [], after: [],
      done: 'the backup GPT is at the disk end, every reserved partition is at its planned sectors with its final type, root ends at its declared end and its file system fills it',
      timeoutSeconds: 600,
      retry: { attempts: 2, delaySeconds: 5, maxDelaySeconds: 5 },
      // Only partitions this stage created, still carrying its "pending" type GUID, are ever wiped.
      destructive: reserved.length > 0,
    })
    .appendWhen(ext4.length > 0, () => ({
      name: 'mounts',
      description: `mounts ${ext4.map((r) => `${r.name} at ${r.mountpoint}`).join(', ')} from /etc/fstab`,
      requires: ['layout'], after: [],
      done: 'each ext4 reserved partition has its fstab line and is mounted at its mountpoint',
      timeoutSeconds: 120,
      retry: { attempts: 3, delaySeconds: 2, maxDelaySeconds: 8 },
      destructive: false,
    }))
    .append({
      name: 'prepare',
      description: 'loads the kernel modules and sysctls Kubernetes needs, turns swap off, applies the board\'s journald, noatime and fstrim tuning, points timesyncd at the NTP servers and makes certificate checks wait for time sync',
      // /etc/fstab is edited by mounts and by this stage: one after the other.
      requires: ['layout'], after: ext4.length > 0 ? ['mounts'] : [],
      done: 'the modules are loaded, the sysctls have their values, no swap is active or in fstab, the tuning units are in their states and systemd-time-wait-sync is enabled',
      timeoutSeconds: 300,
      retry: { attempts: 3, delaySeconds: 5, maxDelaySeconds: 20 },
      destructive: false,
    });
  const before = seq.stages.map((s) => s.name);
  seq.append({
    name: 'complete',
    description: 'reports the boot\'s outcome once every stage has ended and cloud-init has finished',
    requires: [], after: [...before, 'cloud-final.service'],
    done: 'every stage of this node succeeded in this boot (it never changes the machine)',
    timeoutSeconds: 60,
    retry: ONCE,
    destructive: false,
  });
  return [...seq.stages];
}
