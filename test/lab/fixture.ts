// What both lab boot tests set up: a folder with an SSH key of this run's own and a config built
// from the boot tests' fixture (its nodes given as code over `base.nodes`), and `lab ssh` run as a
// user runs it: a process of its own, its exit status the remote command's (not awaited
// synchronously, so the test's own process can serve HTTP to the nodes meanwhile).
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.ts';

export interface LabFixture {
  readonly config: string;
  readonly key: string;
  /** The lab folder the config's lab uses (.imgforge/lab beside it). */
  readonly lab: string;
  readonly ssh: (node: string, command: string) => Promise<{ code: number; out: string }>;
}

/** `body` is JavaScript with `base`, `vm1`, `vm2` and `users` in scope, ending in an export default. */
export function labFixture(body: string): LabFixture {
  const dir = tempDir();
  const key = join(dir, 'id_ed25519');
  assert.equal(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ops@lab-test', '-f', key]).status, 0);
  const pub = readFileSync(`${key}.pub`, 'utf8').trim();
  const config = join(dir, 'images.config.mjs');
  writeFileSync(config, `import base from ${JSON.stringify(join(ROOT, 'test/fixtures/qemu.config.mjs'))};
const [vm1, vm2] = base.nodes;
const users = [{ name: 'ops', sshAuthorizedKeys: [${JSON.stringify(pub)}] }];
${body}\n`);
  const ssh = (node: string, command: string): Promise<{ code: number; out: string }> => new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin/imgforge.js'), '--config', config, 'lab', 'ssh', node, '--key', key, '--', command], { encoding: 'utf8', timeout: 120_000 },
      (e, stdout, stderr) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out: stdout + stderr }));
  });
  return { config, key, lab: join(dir, '.imgforge', 'lab'), ssh };
}

/** Commands whose output `assertInstalled` judges: what apt installed from where, what runs, the clock. */
export const INSTALLED = [
  "dpkg-query -W -f '${Package} ${Version}\\n' kubeadm kubelet kubectl cri-tools",
  'apt-mark showhold',
  'GNUPGHOME=$(mktemp -d) gpg --show-keys --with-colons /etc/apt/keyrings/imgforge-kubernetes.gpg 2>/dev/null | awk -F: \'$1 == "fpr" { print "fpr", $10; exit }\'',
  'systemctl is-active containerd keepalived kubelet',
  'grep sandbox_image /etc/containerd/config.toml',
  'test -e /run/systemd/timesync/synchronized && echo ntp synchronized',
];

/** A control plane installed from the lab's source at 1.35.3: by the source's key, held, running, its clock synced from the lab. */
export function assertInstalled(out: string, fingerprint: string): void {
  for (const p of ['kubeadm', 'kubelet', 'kubectl', 'cri-tools']) assert.match(out, new RegExp(`^${p} 1\\.35\\.3-1\\.1$`, 'm'));
  for (const p of ['kubeadm', 'kubelet', 'kubectl']) assert.match(out, new RegExp(`^${p}$`, 'm'), `${p} is held`);
  assert.match(out, new RegExp(`^fpr ${fingerprint}$`, 'm'), 'the keyring is the source\'s key, accepted by its pinned fingerprint');
  assert.match(out, /^active\nactive\nactive$/m, 'containerd, keepalived and the kubelet run');
  assert.match(out, /sandbox_image = "registry\.k8s\.io\/pause:3\.10\.1"/, 'containerd got the pause image kubeadm names');
  assert.match(out, /^ntp synchronized$/m, 'the node synced its clock from the lab');
}
