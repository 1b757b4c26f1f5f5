// A scratch root for running the node's first-boot scripts for real, fast: the static runtime
// from runtime/, node data from the plan, a fake /proc and /sys, a real GPT disk image as
// /dev/vda, and test/runtime/fake on PATH for every command that reaches the kernel or systemd.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEvents, type Event } from '../../src/protocol/events.ts';
import { nodeDocJsonSchema } from '../../src/protocol/node-doc.ts';
import { ROOT, tempDir } from '../helpers.ts';

export const LIB = join(ROOT, 'runtime/usr/local/lib/imgforge');
const FAKE = join(ROOT, 'test/runtime/fake');
const FAKE_CLUSTER = join(ROOT, 'test/runtime/fake-cluster');
/** What the assembly stages run, answered by test/runtime/fake-cluster. */
const CLUSTER_COMMANDS = ['curl', 'apt-get', 'apt-cache', 'apt-mark', 'dpkg-query', 'crictl', 'ip', 'kubeadm', 'kubectl', 'etcdctl', 'keepalived', 'haproxy', 'cilium', 'helm'];
const COMMANDS = ['sgdisk', 'partx', 'udevadm', 'logger', 'sync', 'mountpoint', 'mount', 'umount', 'blkid', 'wipefs', 'dd', 'mkfs.ext4',
  'dumpe2fs', 'resize2fs', 'modprobe', 'sysctl', 'swapoff', 'systemctl', 'systemd-run', 'hostname', 'sleep', 'netplan'];

/** strace can run a program here (it needs ptrace, which some sandboxes forbid). */
const STRACE = spawnSync('strace', ['-o', '/dev/null', 'true']).status === 0;

export interface RunResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The power was cut (FAKE_CUT) during this run. */
  readonly cut: boolean;
}

export class Rig {
  readonly root: string;
  readonly bin: string;
  readonly log: string;
  /** What other machines answer (test/runtime/fake-cluster); rigs of one cluster share it. */
  readonly world: string;

  constructor(opts: { readonly world?: string } = {}) {
    const dir = tempDir('imgforge-rig-');
    this.root = join(dir, 'root');
    this.bin = join(dir, 'bin');
    this.log = join(dir, 'calls.log');
    mkdirSync(this.bin, { recursive: true });
    for (const c of COMMANDS) symlinkSync(FAKE, join(this.bin, c));
    for (const c of CLUSTER_COMMANDS) symlinkSync(FAKE_CLUSTER, join(this.bin, c));
    chmodSync(FAKE, 0o755);
    chmodSync(FAKE_CLUSTER, 0o755);
    this.world = opts.world ?? join(this.root, '.fake/world');
    for (const d of ['proc/sys/kernel/random', 'dev/virtio-ports', 'etc', 'var/lib', 'run', 'sys/module', '.fake']) mkdirSync(join(this.root, d), { recursive: true });
    writeFileSync(join(this.root, 'proc/uptime'), '100.00 90.00\n');
    writeFileSync(join(this.root, 'proc/sys/kernel/random/boot_id'), '6f1c1b0e-1111-4222-8333-444455556666\n');
    writeFileSync(join(this.root, 'proc/swaps'), 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n');
    writeFileSync(join(this.root, 'dev/console'), '');
    writeFileSync(join(this.root, 'dev/virtio-ports/org.imgforge.events'), '');
    writeFileSync(join(this.root, 'etc/fstab'), 'LABEL=cloudimg-rootfs\t/\text4\tdefaults\t0 1\n');
    writeFileSync(this.log, '');
  }

  path(p: string): string {
    return join(this.root, p);
  }

  write(p: string, content: string): void {
    mkdirSync(join(this.root, p, '..'), { recursive: true });
    writeFileSync(join(this.root, p), content);
  }

  read(p: string): string {
    return readFileSync(join(this.root, p), 'utf8');
  }

  /** Install node.json as the node's data, through node-env as a node does. */
  installNode(doc: unknown): void {
    const json = join(this.root, 'etc/imgforge/node.json');
    this.write('etc/imgforge/node.json', `${JSON.stringify(doc, null, 2)}\n`);
    mkdirSync(join(this.root, 'var/lib/imgforge'), { recursive: true });
    const schema = join(this.root, '.fake/node.schema.json');
    writeFileSync(schema, nodeDocJsonSchema());
    const r = spawnSync('python3', [join(LIB, 'node-env'), json, schema, join(this.root, 'var/lib/imgforge/node.env')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`node-env: ${r.stderr}`);
  }

  /** Run a program of the runtime (or any command) in the rig; FAKE_CUT / FAKE_FAIL and others through env. */
  run(command: readonly string[], env: Record<string, string> = {}): RunResult {
    rmSync(join(this.root, '.fake/cut'), { force: true });
    // setsid: a process group of its own, which a power cut (the fake's kill 0) takes down whole.
    const r = spawnSync('setsid', ['-w', ...command], {
      encoding: 'utf8',
      env: {
        PATH: `${this.bin}:${process.env['PATH']}`, FAKE_REAL_PATH: process.env['PATH']!, FAKE_LOG: this.log,
        IMGFORGE_ROOT: this.root, FAKE_WORLD: this.world, LC_ALL: 'C', ...(STRACE ? { FAKE_STRACE: '1' } : {}), ...env,
      },
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, cut: existsSync(join(this.root, '.fake/cut')) };
  }

  stage(name: string, env: Record<string, string> = {}): RunResult {
    return this.run(['sh', join(LIB, 'run-stage'), name], env);
  }

  /** The events written to the event port so far. */
  events(): readonly Event[] {
    const { events, rejected } = parseEvents(this.read('dev/virtio-ports/org.imgforge.events'));
    if (rejected.length) throw new Error(`not events: ${JSON.stringify(rejected)}`);
    return events;
  }

  /** Recorded calls, each [command, ...args], leaving out the writes of events to the port
   *  (read those with events()); cleared by clearCalls. */
  calls(name?: string): string[][] {
    return readFileSync(this.log, 'utf8').split('\n').filter(Boolean).map((l) => l.split('\t'))
      .filter((c) => !(c[0] === 'dd' && c[1]?.endsWith('/org.imgforge.events')))
      .filter((c) => !name || c[0] === name);
  }

  clearCalls(): void {
    writeFileSync(this.log, '');
    for (const c of [...COMMANDS, ...CLUSTER_COMMANDS]) rmSync(join(this.root, `.fake/count-${c}`), { force: true });
  }

  clearEvents(): void {
    writeFileSync(join(this.root, 'dev/virtio-ports/org.imgforge.events'), '');
  }
}
