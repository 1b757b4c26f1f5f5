import type { ResolvedNode } from '../config/resolve.ts';
import type { BootstrapSpec } from '../base/bootstrap.ts';

/** Where a node's base comes from: decided from its profile and --base, without I/O. */
export type BaseChoice =
  /** A file the user named (--base): its hash still keys the cache and goes into the manifest. */
  | { readonly kind: 'file'; readonly path: string }
  /** A download, verified against a pinned SHA-256 or the publisher's SHA256SUMS. */
  | { readonly kind: 'download'; readonly url: string; readonly sha256?: string | undefined; readonly sha256sums?: string | undefined; readonly unverifiedReason?: string | undefined }
  /** Built from packages (mmdebstrap). */
  | { readonly kind: 'bootstrap'; readonly spec: BootstrapSpec; readonly source: string };

/** The base a build of this node uses: --base (a URL or a file) over the profile's download or bootstrap. */
export function chooseBase(n: ResolvedNode, override?: string): BaseChoice {
  if (override !== undefined) return /^(https?|file):/.test(override) ? { kind: 'download', url: override } : { kind: 'file', path: override };
  const { download: d, bootstrap: b } = n.profile.base;
  if (d) return { kind: 'download', url: d.url, sha256: d.sha256, sha256sums: d.sha256sums, unverifiedReason: d.unverifiedReason };
  return {
    kind: 'bootstrap', source: `bootstrap ${b!.suite} ${b!.mirror}`,
    spec: { suite: b!.suite, mirror: b!.mirror, arch: n.profile.base.arch, packages: b!.packages, bios: n.profile.boot.firmware.includes('bios'), rootBytes: b!.rootSize,
      initramfsModules: b!.initramfsModules },
  };
}
