/**
 * The node bundle: every file a node receives, at its path on the node, as one tar archive whose
 * SHA-256 the seed pins. The static runtime (runtime/usr/...) is the same for every node and
 * comes first; the node's data (node.json), its stage units and its config files follow.
 */
import { createHash, type Hash } from 'node:crypto';
import type nunjucks from 'nunjucks';
import { pack } from 'tar-stream';
import { nodeDocJsonSchema, type NodeDoc } from '../protocol/node-doc.ts';
import { renderTemplate } from '../render/environment.ts';
import type { RuntimeSet } from '../render/runtime.ts';
import type { SeedContext } from './context.ts';
import type { StagePlan } from './stages.ts';

export interface TreeFile {
  /** Absolute path on the node. */
  readonly path: string;
  readonly mode: number;
  /** File content, or the target of a symlink. */
  readonly content: string;
  readonly symlink?: true;
  /** imgforge's own: checked on every boot (SHA256SUMS) and restored when damaged. Config files an operator may edit are not. */
  readonly owned: boolean;
}

export interface Bundle {
  /** Every file, sorted by path. */
  readonly files: readonly TreeFile[];
  readonly tar: Buffer;
  readonly sha256: string;
}

/** The node's secrets, packed apart from its bundle: installed, then removed from the seed's partition. */
export interface SecretsPack {
  readonly files: readonly TreeFile[];
  readonly tar: Buffer;
  readonly sha256: string;
}

/** The name the bundle has on CIDATA and on a seed server. */
export const BUNDLE_NAME = 'imgforge-bundle.tar';
/** The secrets' tar, beside it. */
export const SECRETS_NAME = 'imgforge-secrets.tar';
const LIB = '/usr/local/lib/imgforge';
const UNITS = '/etc/systemd/system';
/** Every entry's time: the bundle's bytes depend on its contents alone (install sets times of its own). */
const MTIME = new Date(315532800 * 1000); // 1980-01-01, FAT's epoch, as imgforge's other outputs default to

const unit = (stage: string): string => `imgforge-${stage}.service`;
const toUnit = (s: string): string => (s.includes('.') ? s : unit(s));
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
const byPath = (a: TreeFile, b: TreeFile): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** The part of every bundle that is the same for all nodes, made once per runtime: its files, their digests, their tar entries. */
interface Shared {
  readonly files: readonly TreeFile[];
  readonly digests: ReadonlyMap<string, string>;
  /** The entries packed, and a SHA-256 that has seen them, to be continued per node. */
  packed?: { readonly bytes: Buffer; readonly hash: Hash };
}
const shared = new WeakMap<RuntimeSet, Shared>();

function sharedPart(runtime: RuntimeSet): Shared {
  let s = shared.get(runtime);
  if (!s) {
    const files: TreeFile[] = [];
    for (const [rel, text] of runtime) {
      if (!rel.startsWith('usr/')) continue;
      // Programs have no extension; what they source or read (lib.sh, stages/*.sh, event.awk) is not run directly.
      files.push({ path: `/${rel}`, mode: /\.[a-z]+$/.test(rel) ? 0o644 : 0o755, content: text, owned: true });
    }
    files.push({ path: `${LIB}/node.schema.json`, mode: 0o644, content: nodeDocJsonSchema(), owned: true });
    files.sort(byPath);
    s = { files, digests: new Map(files.map((f) => [f.path, sha256(f.content)])) };
    shared.set(runtime, s);
  }
  return s;
}

/** The node's secret files as a tar of their own, in path order (keys 0600). */
export async function packSecrets(files: readonly { path: string; mode: number; content: string }[]): Promise<SecretsPack | null> {
  if (files.length === 0) return null;
  const tree = files.map((f) => ({ ...f, owned: true })).sort(byPath);
  const tar = await entries(tree, true);
  return { files: tree, tar, sha256: createHash('sha256').update(tar).digest('hex') };
}

/** Every file the node receives but its secrets, sorted by path. Pure. */
export function nodeTree(env: nunjucks.Environment, runtime: RuntimeSet, ctx: SeedContext, doc: NodeDoc, stages: readonly StagePlan[], secrets: SecretsPack | null = null,
  extra: readonly TreeFile[] = []): TreeFile[] {
  const node = ctx.node.hostname;
  const common = sharedPart(runtime);
  const files: TreeFile[] = [];
  const add = (path: string, content: string, mode = 0o644, owned = true): void => { files.push({ path, mode, content, owned }); };
  add('/etc/imgforge/node.json', `${JSON.stringify(doc, null, 2)}\n`);
  for (const s of stages) {
    // A stage it waits for without requiring its success is still pulled in (Wants=).
    // network-online.target is pulled in by whoever needs it; time-sync.target only ordered after (systemd.special(7)).
    const wants = [...s.after.filter((a) => !a.includes('.')).map(unit), ...s.after.filter((a) => a === 'network-online.target')];
    add(`${UNITS}/${unit(s.name)}`, renderTemplate(env, 'units/stage.service.njk', {
      node, stage: s, requires: s.requires.map(toUnit), after: s.after.map(toUnit), wants,
    }));
  }
  add(`${UNITS}/imgforge-report.service`, renderTemplate(env, 'units/report.service.njk', {}));
  add(`${UNITS}/imgforge-events.path`, renderTemplate(env, 'units/events.path.njk', {}));
  add(`${UNITS}/imgforge-events.service`, renderTemplate(env, 'units/events.service.njk', {}));
  add(`${UNITS}/imgforge.target`, renderTemplate(env, 'units/imgforge.target.njk', {
    node, units: [...stages.map((s) => unit(s.name)), 'imgforge-report.service', 'imgforge-events.path'],
  }));
  add(`${UNITS}/systemd-time-wait-sync.service.d/90-imgforge.conf`, renderTemplate(env, 'units/time-wait-sync.conf.njk', {}));
  files.push({ path: `${UNITS}/multi-user.target.wants/imgforge.target`, mode: 0o777, content: '../imgforge.target', symlink: true, owned: true });
  files.push(...extra);
  // The seed's network-config again, for a node seeded by a seed server: cloud-init does not fetch it
  // over HTTP there, and the installer applies it (runtime/usr/local/lib/imgforge/served-network).
  add('/etc/imgforge/network-config.yaml', renderTemplate(env, 'seed/network-config.njk', ctx), 0o600);
  add('/etc/hosts', renderTemplate(env, 'files/hosts.njk', ctx), 0o644, false);
  add('/etc/modules-load.d/imgforge.conf', renderTemplate(env, 'files/modules.conf.njk', ctx), 0o644, false);
  add('/etc/sysctl.d/90-imgforge.conf', renderTemplate(env, 'files/sysctl.conf.njk', ctx), 0o644, false);
  add('/etc/systemd/journald.conf.d/90-imgforge.conf', renderTemplate(env, 'files/journald.conf.njk', ctx), 0o644, false);
  add('/etc/systemd/timesyncd.conf.d/90-imgforge.conf', renderTemplate(env, 'files/timesyncd.conf.njk', ctx), 0o644, false);
  // The secrets' digests (not secret): how the installer knows installed secrets are whole once the tar has left CIDATA.
  if (secrets) add(`${LIB}/SECRETS.SHA256SUMS`, secrets.files.map((f) => `${sha256(f.content)}  ${f.path.slice(1)}\n`).join(''));
  // What the bootstrap checks on every boot: sha256sum(1) -c lines, paths relative to /.
  const owned = [...common.files, ...files].filter((f) => f.owned && !f.symlink).sort(byPath);
  add(`${LIB}/SHA256SUMS`, owned.map((f) => `${common.digests.get(f.path) ?? sha256(f.content)}  ${f.path.slice(1)}\n`).join(''));
  return [...common.files, ...files].sort(byPath);
}

/** Tar entries (POSIX ustar, as tar-stream writes them) for these files, without the end-of-archive blocks. */
async function entries(files: readonly TreeFile[], end: boolean): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    p.on('data', (c: unknown) => chunks.push(c as Buffer));
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const f of files) {
    const header = { name: f.path.slice(1), mode: f.mode, mtime: MTIME, uid: 0, gid: 0, uname: 'root', gname: 'root' };
    if (f.symlink) p.entry({ ...header, type: 'symlink', linkname: f.content });
    else p.entry({ ...header, type: 'file' }, f.content);
  }
  p.finalize();
  await done;
  const all = Buffer.concat(chunks);
  // tar-stream ends an archive with two zero blocks (POSIX ustar); a part of one has none.
  return end ? all : all.subarray(0, all.length - 1024);
}

/**
 * The tree as a tar archive: files and symlinks only, so extracting it never changes an existing
 * folder; owner root, fixed times; the runtime every node shares first, then the node's own
 * files, each part in path order. The same tree gives the same bytes.
 */
export async function packBundle(runtime: RuntimeSet, files: readonly TreeFile[]): Promise<Bundle> {
  const common = sharedPart(runtime);
  const commonPaths = new Set(common.files.map((f) => f.path));
  if (!common.packed) {
    const bytes = await entries(common.files, false);
    common.packed = { bytes, hash: createHash('sha256').update(bytes) };
  }
  const packed = common.packed;
  const own = await entries(files.filter((f) => !commonPaths.has(f.path)), true);
  return { files, tar: Buffer.concat([packed.bytes, own]), sha256: packed.hash.copy().update(own).digest('hex') };
}
