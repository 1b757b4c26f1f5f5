/**
 * Generic images (`imgforge build --generic <board> --seed-url URL`): one image per board that any
 * number of machines are flashed with, each coming up as the node the seed server knows it by.
 * Pure: what goes into root, from the shipped runtime's generic/ files and the request.
 * docs/serve.md, "Generic images", says why each file is there.
 */
import type { RuntimeSet } from '../render/runtime.ts';

/**
 * Which identifier of the machine names it in the seed URL (the server's /by-<match>/ routes);
 * `lan`: none, the server reads the requester's MAC from its neighbour table.
 */
export type SeedMatch = 'mac' | 'uuid' | 'serial' | 'lan';
export const SEED_MATCHES: readonly SeedMatch[] = ['mac', 'uuid', 'serial', 'lan'];

export interface GenericRequest {
  readonly board: string;
  /** The seed server's https URL as nodes reach it, ending in "/" (`imgforge serve --url`). */
  readonly seedUrl: string;
  readonly match: SeedMatch;
  /**
   * PEM of the certificate that issued the server's (or the server's own, self-signed), for an
   * https seed URL whose issuer the base does not trust; null when it does.
   */
  readonly seedCa: string | null;
}

/** A file the build writes into root, owned by root. */
export interface RootFile {
  readonly path: string;
  readonly mode: number;
  readonly content: string;
}

/** A symbolic link the build makes in root. */
export interface RootLink {
  readonly path: string;
  readonly target: string;
}

/** The name a generic image goes by: its file name and the node name its derived GUIDs use. */
export const genericName = (board: string): string => `generic-${board}`;

/**
 * Why a seed URL cannot be used, as a sentence; null when it can. https only (claims); cloud-init
 * before 23.1 appends "meta-data" to seedfrom as it is, so the trailing "/" is required
 * (../shared/reference/seed-server-and-flash.md §A.3).
 */
export function seedUrlProblem(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${url}" is not a URL`;
  }
  // Every node has secrets (a worker its bootstrap token), which it claims from the server once
  // booted; the answer is a secret, and imgforge sends none over plain http (the node refuses too).
  if (u.protocol !== 'https:') return `"${url}" is not https: a node of a generic image claims its secrets from the seed server, and secrets never travel over plain http`;
  if (u.search || u.hash) return `"${url}" has a query or fragment; nodes append paths to it`;
  if (!url.endsWith('/')) return `"${url}" must end in "/" (cloud-init before 23.1 appends file names as they are)`;
  if (/[\s"'\\]/.test(url)) return `"${url}" holds a space, quote or backslash`;
  return null;
}

const LIB = '/usr/local/lib/imgforge';
export const SEED_CA = '/usr/local/share/ca-certificates/imgforge-seed.crt';
const UNIT = 'imgforge-seed-url.service';

/**
 * What a generic image adds to its base's root. cloud-init reads /etc/cloud/cloud.cfg.d/*.cfg in
 * name order, later files winning (cloudinit/stages.py, read_runtime_config): 98_ comes after
 * Ubuntu's 90_dpkg.cfg. A datasource_list of one entry makes ds-identify take NoCloud without
 * probing (tools/ds-identify, "single entry in datasource_list"); the unit writes 99_'s seedfrom.
 */
export function genericRootFiles(runtime: RuntimeSet, req: GenericRequest): { files: RootFile[]; links: RootLink[] } {
  const text = (rel: string): string => {
    const t = runtime.get(rel);
    if (t === undefined) throw new Error(`runtime/${rel} is missing from imgforge's installation`);
    return t;
  };
  return {
    files: [
      { path: '/etc/cloud/cloud.cfg.d/98_imgforge-datasource.cfg', mode: 0o644,
        content: '# imgforge build --generic: this image takes its seed from the seed server (99_imgforge-seed.cfg).\ndatasource_list: [ NoCloud ]\n' },
      { path: '/etc/imgforge/seed.conf', mode: 0o644,
        content: `# imgforge build --generic: the seed server, and what names this machine to it.\nSEED_URL='${req.seedUrl}'\nSEED_MATCH=${req.match}\n` },
      { path: `${LIB}/seed-url`, mode: 0o755, content: text('generic/seed-url') },
      { path: `/etc/systemd/system/${UNIT}`, mode: 0o644, content: text(`generic/${UNIT}`) },
      // Where update-ca-certificates(8) takes local certificates from; seed-url runs it at first
      // boot, before cloud-init fetches the seed over https (curl and Python's requests read the
      // system bundle it writes, /etc/ssl/certs/ca-certificates.crt).
      ...(req.seedCa ? [{ path: SEED_CA, mode: 0o644, content: req.seedCa }] : []),
    ],
    // Enabled as `systemctl enable` would for a unit wanted by cloud-init-local.service: a link in
    // that unit's .wants folder (systemd.unit(5), "Wants=").
    links: [{ path: `/etc/systemd/system/cloud-init-local.service.wants/${UNIT}`, target: `/etc/systemd/system/${UNIT}` }],
  };
}
