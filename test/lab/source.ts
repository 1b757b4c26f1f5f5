// The lab's package source for tests: pkgs.k8s.io's layout (kubernetes/core:/stable:/<minor>/deb/,
// a flat apt repository signed by a key made here) holding .deb packages of the stand-ins in
// standins/ at the config's Kubernetes version, and packages.yaml: imgforge's own with the
// Kubernetes key's fingerprint replaced by this one's. `imgforge lab up --source <dir>` serves it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { PACKAGES_FILE } from '../../src/plan/packages.ts';
import { ROOT, tempDir } from '../helpers.ts';

const STANDINS = join(ROOT, 'test/lab/standins');
const FIELDS = join(ROOT, 'test/kubeadm/fields');

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface Pkg { readonly name: string; readonly files: Record<string, string>; readonly depends: string; readonly description: string; readonly postinst?: string }

const COMMON = 'imgforge-lab-standins';

/** The stand-ins, each its own package as upstream's, and the library they share (record, strict). */
function packages(version: string): Pkg[] {
  const dep = `python3, python3-yaml, ${COMMON} (= ${version}-1.1)`;
  return [
    { name: COMMON, depends: 'python3, python3-yaml, openssl', description: 'what the imgforge lab stand-ins share', files: {
      ...Object.fromEntries(['standin.py', 'strict.py', 'kube.py', 'pki.py', 'apiserver.py', 'kube_vip.py'].map((f) => [`/usr/lib/imgforge-standins/${f}`, join(STANDINS, f)])),
      ...Object.fromEntries(readdirSync(FIELDS).map((f) => [`/usr/share/imgforge-standins/fields/${f}`, join(FIELDS, f)])),
    } },
    // A joining control plane's kubeadm adds and promotes its etcd member with etcdctl.
    { name: 'kubeadm', depends: `${dep}, etcd-client`, description: 'kubeadm stand-in (imgforge lab)', files: {
      '/usr/bin/kubeadm': join(STANDINS, 'kubeadm'),
      ...Object.fromEntries(['kubeadm_init.py', 'kubeadm_join.py'].map((f) => [`/usr/lib/imgforge-standins/${f}`, join(STANDINS, f)])),
    } },
    // The kubelet stand-in runs etcd's static pod with Debian's real etcd.
    { name: 'kubelet', depends: `${dep}, etcd-server`, postinst: join(STANDINS, 'kubelet.postinst'), description: 'kubelet stand-in (imgforge lab)', files: { '/usr/bin/kubelet': join(STANDINS, 'kubelet'), '/lib/systemd/system/kubelet.service': join(STANDINS, 'kubelet.service') } },
    { name: 'kubectl', depends: dep, description: 'kubectl stand-in (imgforge lab)', files: { '/usr/bin/kubectl': join(STANDINS, 'kubectl') } },
    { name: 'cri-tools', depends: dep, description: 'crictl stand-in (imgforge lab)', files: { '/usr/bin/crictl': join(STANDINS, 'crictl') } },
  ];
}

/** A .deb of the package, its version VERSION-1.1 as pkgs.k8s.io numbers them. */
function buildDeb(p: Pkg, version: string, out: string): string {
  const tree = tempDir('imgforge-deb-');
  for (const [dest, src] of Object.entries(p.files)) {
    const to = join(tree, dest);
    mkdirSync(join(to, '..'), { recursive: true });
    writeFileSync(to, readFileSync(src, 'utf8').replaceAll('@VERSION@', version));
    chmodSync(to, statSync(src).mode & 0o777);
  }
  mkdirSync(join(tree, 'DEBIAN'));
  if (p.postinst) {
    writeFileSync(join(tree, 'DEBIAN/postinst'), readFileSync(p.postinst));
    chmodSync(join(tree, 'DEBIAN/postinst'), 0o755);
  }
  writeFileSync(join(tree, 'DEBIAN/control'), `Package: ${p.name}\nVersion: ${version}-1.1\nArchitecture: amd64\nMaintainer: imgforge tests <test@imgforge.invalid>\nDepends: ${p.depends}\nDescription: ${p.description} ${version}\n`);
  const deb = join(out, `${p.name}_${version}-1.1_amd64.deb`);
  run('dpkg-deb', ['--root-owner-group', '-Zgzip', '-b', tree, deb]);
  return deb;
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Build the source for a Kubernetes version into a new folder; returns it and the signing key's fingerprint. */
export function buildLabSource(kubernetesVersion: string): { dir: string; fingerprint: string } {
  const dir = tempDir('imgforge-lab-source-');
  const minor = `v${kubernetesVersion.split('.').slice(0, 2).join('.')}`;
  const repo = join(dir, 'kubernetes/core:/stable:', minor, 'deb');
  mkdirSync(repo, { recursive: true });
  const stanzas = packages(kubernetesVersion).map((p) => {
    const deb = buildDeb(p, kubernetesVersion, repo);
    const control = run('dpkg-deb', ['-f', deb]).trimEnd();
    return `${control}\nFilename: ./${deb.split('/').at(-1)}\nSize: ${statSync(deb).size}\nSHA256: ${sha256(deb)}\n`;
  });
  writeFileSync(join(repo, 'Packages'), `${stanzas.join('\n')}`);
  const size = statSync(join(repo, 'Packages')).size;
  writeFileSync(join(repo, 'Release'), `Origin: imgforge lab\nLabel: imgforge lab stand-ins\nArchitectures: amd64\nDate: Thu, 01 Jan 2026 00:00:00 UTC\nSHA256:\n ${sha256(join(repo, 'Packages'))} ${size} Packages\n`);
  const home = tempDir('imgforge-lab-gpg-');
  const gpg = (...args: string[]): string => run('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', ...args]);
  gpg('--quick-gen-key', 'imgforge lab source <lab@imgforge.invalid>', 'ed25519', 'sign', 'never');
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(gpg('--with-colons', '--list-keys'))![1]!;
  gpg('--clearsign', '--digest-algo', 'SHA256', '-o', join(repo, 'InRelease'), join(repo, 'Release'));
  writeFileSync(join(repo, 'Release.key'), gpg('--armor', '--export'));
  const pins = parse(readFileSync(PACKAGES_FILE, 'utf8')) as {
    kubernetes: { fingerprint: string; source: string };
    cni: { ciliumCli: Tool; helm: Tool; calicoRepository: string };
    gatewayApi: { url: string; sha256: { standard: Record<string, string> }; source: string };
  };
  pins.kubernetes.fingerprint = fingerprint;
  pins.kubernetes.source = 'the imgforge lab test source (test/lab/source.ts): a key made for this run';
  // The Cilium CLI's and helm's release tarballs, at their upstream paths under downloads/ (helm's
  // holds linux-amd64/helm, as get.helm.sh's does), pinned by their digests.
  releaseTarball(dir, pins.cni.ciliumCli, 'cilium', 'cilium');
  releaseTarball(dir, pins.cni.helm, 'helm', 'linux-amd64/helm');
  // Tigera's index names each archive by its GitHub release URL (projectcalico/calico#5143): the
  // archives sit at that URL's path under downloads/, where only the downloads mirror reaches them.
  calicoChartRepository(join(dir, 'downloads', pins.cni.calicoRepository.replace(/^https:\/\//, '')), { dir: join(dir, 'downloads', CALICO_RELEASES.replace(/^https:\/\//, '')), url: CALICO_RELEASES });
  // The Gateway API CRDs of every pinned standard-channel version, at the release's path, pinned by digest.
  const gw = pins.gatewayApi;
  for (const version of Object.keys(gw.sha256.standard)) {
    const file = join(dir, 'downloads', gw.url.replaceAll('{version}', version).replaceAll('{channel}', 'standard').replace(/^https:\/\//, ''));
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, gatewayApiCrds(version));
    gw.sha256.standard[version] = sha256(file);
  }
  gw.source = 'the imgforge lab test source: CRDs named as the Gateway API release\'s standard channel';
  writeFileSync(join(dir, 'packages.yaml'), stringify(pins));
  return { dir, fingerprint };
}


interface Tool { version: string; url: string; sha256: { amd64: string }; source: string }

/** A tool's release tarball holding the stand-in at `inside`; its pin becomes the tarball's digest. */
function releaseTarball(dir: string, tool: Tool, standin: string, inside: string): void {
  const tarball = join(dir, 'downloads', tool.url.replaceAll('{version}', tool.version).replaceAll('{arch}', 'amd64').replace(/^https:\/\//, ''));
  mkdirSync(join(tarball, '..'), { recursive: true });
  const stage = tempDir('imgforge-tool-');
  mkdirSync(join(stage, inside, '..'), { recursive: true });
  writeFileSync(join(stage, inside), readFileSync(join(STANDINS, standin), 'utf8'));
  chmodSync(join(stage, inside), 0o755);
  run('tar', ['-czf', tarball, '-C', stage, inside.split('/')[0]!]);
  tool.sha256.amd64 = sha256(tarball);
  tool.source = `the imgforge lab test source: the ${standin} stand-in (test/lab/standins/${standin})`;
}

/** Calico's chart repository as Tigera's is laid out (index.yaml, tigera-operator-<version>.tgz) with every version the tests name. */
export const CALICO_CHART_VERSIONS = ['v3.32.1'];
const CALICO_RELEASES = 'https://github.com/projectcalico/calico/releases/download';

/** `releases`: the archives in <dir>/<version>/, named in the index by <url>/<version>/<file> as Tigera's are; else beside the index, named relatively. */
export function calicoChartRepository(repo: string, releases?: { dir: string; url: string }): void {
  mkdirSync(repo, { recursive: true });
  const entries = CALICO_CHART_VERSIONS.map((version) => {
    const stage = tempDir('imgforge-chart-');
    const chart = join(stage, 'tigera-operator');
    mkdirSync(join(chart, 'crds'), { recursive: true });
    writeFileSync(join(chart, 'Chart.yaml'), stringify({ apiVersion: 'v2', name: 'tigera-operator', version, appVersion: version, description: 'Installs the Tigera operator for Calico (imgforge lab chart)' }));
    writeFileSync(join(chart, 'values.yaml'), stringify({ installation: { enabled: true, kubernetesProvider: '' }, tigeraOperator: { image: 'tigera/operator', registry: 'quay.io', version: 'v1.40.0' } }));
    writeFileSync(join(chart, 'crds', 'operator.tigera.io_installations.yaml'), stringify({
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'installations.operator.tigera.io' },
      spec: { group: 'operator.tigera.io', scope: 'Cluster', names: { kind: 'Installation', plural: 'installations', singular: 'installation', listKind: 'InstallationList' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }] },
    }));
    const file = `tigera-operator-${version}.tgz`;
    const at = releases ? join(releases.dir, version) : repo;
    mkdirSync(at, { recursive: true });
    run('tar', ['-czf', join(at, file), '-C', stage, 'tigera-operator']);
    return { name: 'tigera-operator', version, appVersion: version, urls: [releases ? `${releases.url}/${version}/${file}` : file], digest: sha256(join(at, file)) };
  });
  writeFileSync(join(repo, 'index.yaml'), stringify({ apiVersion: 'v1', entries: { 'tigera-operator': entries } }));
}

/** The standard channel's CRDs (names, kinds, scope as the release has them), each with an open schema. */
function gatewayApiCrds(version: string): string {
  const kinds = [['GatewayClass', 'gatewayclasses', 'Cluster'], ['Gateway', 'gateways', 'Namespaced'], ['HTTPRoute', 'httproutes', 'Namespaced'],
    ['GRPCRoute', 'grpcroutes', 'Namespaced'], ['ReferenceGrant', 'referencegrants', 'Namespaced']] as const;
  return kinds.map(([kind, plural, scope]) => stringify({
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.gateway.networking.k8s.io`, annotations: { 'gateway.networking.k8s.io/bundle-version': `v${version}`, 'gateway.networking.k8s.io/channel': 'standard' } },
    spec: { group: 'gateway.networking.k8s.io', scope, names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }] },
  })).join('---\n');
}
