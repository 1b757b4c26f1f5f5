/**
 * The first-boot stage graph of one node, composed by role and options the way Talos's sequencer
 * builds its phases (append a stage; append one only when a condition holds). Each stage is a
 * static script in runtime/usr/local/lib/imgforge/stages/, run by systemd as
 * imgforge-<name>.service: check, apply, check again, with the timeout and retries given here.
 */
import type { Layout } from '../config/schema/layout.ts';
import type { NodeDoc } from '../protocol/node-doc.ts';

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
  /**
   * A stage that assembles the cluster (installs, joins): a node booted alone by `imgforge test`
   * is told to pass over these (SMBIOS OEM string imgforge.assembly=off), since no lone VM can join.
   */
  readonly assembly?: true;
}

/** What the sequencer decides from: the parts of a node's config that add stages. */
export interface StageFacts {
  readonly layout: Layout;
  /** How the node assembles the cluster (src/plan/assembly.ts); null when it does not. */
  readonly assembly: NodeDoc['assembly'];
  /** Whether it runs an etcd member kubeadm does not make (a worker's). */
  readonly workerEtcdMember: boolean;
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
  const a = facts.assembly;
  if (a) appendAssembly(seq, a, facts.workerEtcdMember);
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

/** Minutes, for timeouts. */
const min = (m: number): number => m * 60;

/** The stages that assemble the cluster (kubeadm-ha.md §1-§4; seed 000's order). */
function appendAssembly(seq: Sequence, a: NonNullable<NodeDoc['assembly']>, workerEtcdMember: boolean): void {
  const vip = a.vip;
  if (a.part === 'etcd' || !a.packages) {
    seq.append({
      name: 'etcd-external', assembly: true,
      description: a.etcd?.url
        ? `installs etcd ${a.etcd.version} from ${a.etcd.url} (SHA-256 checked) and runs it under systemd as a member of the external etcd cluster`
        : "installs the base archive's etcd-server and runs it under systemd as a member of the external etcd cluster",
      requires: ['prepare'], after: ['network-online.target'],
      done: 'etcd runs at its pinned version with imgforge\'s unit, and lists this node as a started voting member with a healthy endpoint',
      // The other members may be powered on last: a new cluster has no quorum until a majority runs.
      timeoutSeconds: min(120),
      retry: { attempts: 3, delaySeconds: 30, maxDelaySeconds: 120 },
      destructive: false,
    });
    return;
  }
  const packages = a.packages;
  const vipStage = (requires: string[]): StagePlan => ({
    name: 'api-vip', assembly: true,
    description: vip!.provider === 'kube-vip'
      ? `writes kube-vip's static pod for the API VIP ${vip!.address} (ARP, leader election)${a.part === 'init' ? ' with super-admin.conf until kubeadm init has bound admin.conf its rights' : ''}`
      : `starts ${vip!.provider === 'keepalived' ? 'keepalived' : 'HAProxy and keepalived'} for the API VIP ${vip!.address} (VRRP priority ${vip!.priority}; a failing /healthz on port ${vip!.checkPort} lowers it below every healthy control plane)`,
    requires, after: [],
    done: vip!.provider === 'kube-vip' ? "kube-vip's static pod manifest is imgforge's"
      : `the VIP's services are enabled and running with imgforge's configuration${a.part === 'init' ? ', and this node holds the VIP' : ''}`,
    timeoutSeconds: min(10),
    retry: { attempts: 3, delaySeconds: 10, maxDelaySeconds: 30 },
    destructive: false,
  });
  seq.append({
    name: 'packages', assembly: true,
    description: `installs containerd (${packages.containerd.repo ? `${packages.containerd.package} ${packages.containerd.line ?? ''}`.trim() : "the base archive's containerd"}) with imgforge's config, and kubelet, kubeadm and kubectl ${packages.kubernetes.version} from ${packages.kubernetes.url}, each repository's key checked against its pinned fingerprint; holds them`,
    // Downloads need the network. TLS needs the clock too (SBCs have no RTC: kubeadm-ha.md §7.2): the
    // script waits for the first NTP sync itself, with a deadline, when it has work to do.
    requires: ['prepare'], after: ['network-online.target'],
    done: 'the packages are installed at their pinned versions and held, containerd runs with imgforge\'s config.toml and answers crictl',
    timeoutSeconds: min(30),
    retry: { attempts: 4, delaySeconds: 30, maxDelaySeconds: 120 },
    destructive: false,
  });
  if (a.part === 'init') {
    if (vip) seq.append(vipStage(['packages']));
    seq.append({
      name: 'kubeadm-init', assembly: true,
      description: 'runs kubeadm init once with the pre-seeded certificate authorities and token; after a cut, finishes the phases init had not reached',
      requires: vip ? ['packages', 'api-vip'] : ['packages'], after: [],
      done: 'admin.conf exists, the API answers /readyz, and the kubeadm-config and cluster-info ConfigMaps exist',
      timeoutSeconds: min(30),
      retry: { attempts: 3, delaySeconds: 30, maxDelaySeconds: 60 },
      // kubeadm init never runs over an existing admin.conf or etcd data; the script refuses.
      destructive: false,
    });
    if (a.cni) {
      const cni = a.cni;
      seq.append({
        name: 'cni', assembly: true,
        description: `${cni.gatewayApi ? 'applies the Gateway API CRDs, then ' : ''}installs ${cni.plugin === 'cilium' ? `Cilium ${cni.version ?? ''} with its CLI${cni.kubeProxyReplacement ? ', replacing kube-proxy, reaching the API at the endpoint' : ''}` : `Calico ${cni.version ?? ''} through Tigera's operator chart with Helm`} for the pod network ${cni.podCidr}`.replace(/ {2,}/g, ' '),
        requires: ['kubeadm-init'], after: [],
        done: `${cni.plugin === 'cilium' ? "the cilium DaemonSet exists" : "Calico's Installation \"default\" exists"}${cni.gatewayApi ? ' and the Gateway API CRDs are established' : ''}`,
        timeoutSeconds: min(30),
        retry: { attempts: 4, delaySeconds: 30, maxDelaySeconds: 120 },
        destructive: false,
      });
    }
    seq.append({
      name: 'token-cleanup', assembly: true,
      description: `waits until all ${a.nodes.length} nodes of the config have joined, then deletes the bootstrap token they joined with`,
      requires: ['kubeadm-init'], after: a.cni ? ['cni'] : [],
      done: 'every node of the config is in the cluster and the bootstrap token\'s Secret is gone',
      // Nodes may be powered on hours apart: the wait is long, and the next boot waits again.
      timeoutSeconds: min(120),
      retry: { attempts: 2, delaySeconds: 60, maxDelaySeconds: 60 },
      destructive: false,
    });
    return;
  }
  seq.append({
    name: 'kubeadm-join', assembly: true,
    description: a.part === 'control-plane'
      ? `waits until the API answers at the endpoint with the cluster CA's certificate${a.after ? ` and ${a.after.hostname} is a healthy etcd voter` : ''}, then joins as a control plane`
      : 'waits until the API answers at the endpoint, then joins as a worker, pinning the cluster CA by its hash',
    requires: ['packages'], after: [],
    done: a.part === 'control-plane' ? 'kubelet.conf and the control-plane manifests exist and the local API server answers /readyz' : 'kubelet.conf exists and the kubelet runs',
    // The leader may be powered on last: the wait for it is long, and the next boot waits again.
    timeoutSeconds: min(120),
    retry: { attempts: 3, delaySeconds: 30, maxDelaySeconds: 120 },
    destructive: false,
  });
  if (vip) seq.append(vipStage(['kubeadm-join']));
  if (workerEtcdMember) {
    seq.append({
      name: 'etcd-member', assembly: true,
      description: 'adds this worker\'s etcd member as a learner, starts it as a static pod with the certificates imgforge issued, and promotes it to a voter',
      requires: ['kubeadm-join'], after: [],
      done: 'etcd lists this node as a started voting member and its endpoint is healthy',
      // A wait for the other members (55 minutes at most), then the start and the promotion.
      timeoutSeconds: min(120),
      retry: { attempts: 3, delaySeconds: 20, maxDelaySeconds: 60 },
      destructive: false,
    });
  }
}
