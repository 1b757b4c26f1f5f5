// Nodes of a real config as the assembly stages see them: a rig per node with the files the plan
// gives it (node.json, its secrets, its config files), sharing one world (the API at the
// endpoint, etcd's member list, the apt repositories, the files served over HTTP) answered by
// test/runtime/fake-cluster. The repositories' signing key is a real OpenPGP key made here, so
// the stages' fingerprint checks run real gpg.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCluster } from '../../src/config/index.ts';
import type { Cluster } from '../../src/config/resolve.ts';
import { planCluster, type PlanResult } from '../../src/plan/index.ts';
import { loadPackageSources } from '../../src/plan/packages.ts';
import type { NodeDoc } from '../../src/protocol/node-doc.ts';
import { loadRuntime } from '../../src/render/runtime.ts';
import { loadTemplates } from '../../src/render/templates.ts';
import { createSecrets } from '../../src/secrets/create.ts';
import { loadSecrets } from '../../src/secrets/store.ts';
import type { SecretsBundle } from '../../src/secrets/schema.ts';
import { tempDir } from '../helpers.ts';
import { Rig } from './rig.ts';

/** A real signing key, made once per process: its armored public key and its fingerprint. */
function makeKey(): { armored: string; fingerprint: string } {
  const home = tempDir('imgforge-gpg-');
  const gpg = (...args: string[]) => spawnSync('gpg', ['--homedir', home, '--batch', ...args], { encoding: 'utf8' });
  const made = gpg('--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'imgforge test repository <test@imgforge.invalid>', 'ed25519', 'sign', 'never');
  if (made.status !== 0) throw new Error(`gpg: ${made.stderr}`);
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(gpg('--with-colons', '--list-keys').stdout)![1]!;
  return { armored: gpg('--armor', '--export').stdout, fingerprint };
}
let key: { armored: string; fingerprint: string } | undefined;
export const testKey = (): { armored: string; fingerprint: string } => (key ??= makeKey());

const served = (world: string, url: string): string => join(world, 'http', url.replaceAll('/', '_').replaceAll(':', '_'));

export class ClusterRigs {
  readonly world = tempDir('imgforge-world-');
  readonly cluster: Cluster;
  readonly secrets: SecretsBundle;
  readonly plan: PlanResult;

  private constructor(cluster: Cluster, secrets: SecretsBundle, plan: PlanResult) {
    this.cluster = cluster;
    this.secrets = secrets;
    this.plan = plan;
    mkdirSync(join(this.world, 'apt'), { recursive: true });
    mkdirSync(join(this.world, 'http'), { recursive: true });
    // The repositories: the config's Kubernetes release and a containerd of its line, newest first.
    const v = cluster.config.cluster.kubernetesVersion;
    writeFileSync(join(this.world, 'apt/kubeadm'), `${v}-1.1\n${v}-1.0\n`);
    for (const p of ['kubelet', 'kubectl']) writeFileSync(join(this.world, `apt/${p}`), `${v}-1.1\n`);
    writeFileSync(join(this.world, 'apt/containerd.io'), '2.2.1-1\n2.2.0-1\n1.7.28-1\n');
    writeFileSync(join(this.world, 'apt/containerd'), '1.7.24-0ubuntu1\n');
  }

  static async of(configFile: string, opts: { readonly secrets?: 'fixture' | 'new' } = {}): Promise<ClusterRigs> {
    const cluster = await loadCluster(configFile);
    const secrets = opts.secrets === 'new' ? await createSecrets(cluster, Date.now()) : (await loadSecrets(cluster))!;
    const plan = await planCluster(cluster, [], { templates: await loadTemplates(), runtime: await loadRuntime(), packages: await loadPackageSources(), version: 'test', secrets });
    return new ClusterRigs(cluster, secrets, plan);
  }

  /** The same cluster and plan in a world of its own, where nothing has happened yet. */
  again(): ClusterRigs {
    return new ClusterRigs(this.cluster, this.secrets, this.plan);
  }

  doc(hostname: string): NodeDoc {
    return JSON.parse(this.plan.bundles.get(hostname)!.files.find((f) => f.path === '/etc/imgforge/node.json')!.content) as NodeDoc;
  }

  /** Serve a file over HTTP in this world. */
  serve(url: string, content: string | Buffer): void {
    writeFileSync(served(this.world, url), content);
  }

  /**
   * A rig for one node: its bundle's own files and its secrets at their paths, node.json through
   * node-env with the repositories' fingerprints replaced by the test key's (served at their URLs).
   */
  node(hostname: string, patch: (doc: NodeDoc) => void = () => undefined): Rig {
    const rig = new Rig({ world: this.world });
    for (const f of this.plan.bundles.get(hostname)!.files) {
      if (f.symlink || f.path.startsWith('/usr/') || f.path === '/etc/imgforge/node.json') continue;
      rig.write(f.path.slice(1), f.content);
    }
    for (const f of this.plan.secrets.get(hostname)?.files ?? []) {
      rig.write(f.path.slice(1), f.content);
      chmodSync(rig.path(f.path.slice(1)), f.mode);
    }
    rig.write('etc/os-release', 'ID=ubuntu\nVERSION_CODENAME=noble\n');
    const doc = this.doc(hostname);
    const k = testKey();
    const a = doc.assembly;
    if (a?.packages) {
      a.packages.kubernetes.fingerprint = k.fingerprint;
      this.serve(a.packages.kubernetes.key, k.armored);
      if (a.packages.containerd.repo) {
        a.packages.containerd.repo.fingerprint = k.fingerprint;
        this.serve(a.packages.containerd.repo.key, k.armored);
      }
    }
    patch(doc);
    rig.installNode(doc);
    return rig;
  }

  /** The environment a node's commands run with: its hostname and address. */
  env(hostname: string, extra: Record<string, string> = {}): Record<string, string> {
    const n = this.cluster.nodes.find((x) => x.config.hostname === hostname)!;
    return { FAKE_HOSTNAME: hostname, FAKE_NODE_IP: n.config.address.split('/')[0]!, ...extra };
  }
}
