/**
 * The node bundle: every file a node receives, at its path on the node, as one tar archive whose
 * SHA-256 the seed pins. The static runtime (runtime/usr/...) is the same for every node; the
 * node's data (node.json), its stage units and its config files are rendered from the plan.
 */
import { createHash } from 'node:crypto';
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
  readonly files: readonly TreeFile[];
  readonly tar: Buffer;
  readonly sha256: string;
}

/** The name the bundle has on CIDATA and on a seed server. */
export const BUNDLE_NAME = 'imgforge-bundle.tar';
const LIB = '/usr/local/lib/imgforge';
const UNITS = '/etc/systemd/system';
/** Every entry's time: the bundle's bytes depend on its contents alone (install sets times of its own). */
const MTIME = new Date(315532800 * 1000); // 1980-01-01, FAT's epoch, as imgforge's other outputs default to

const unit = (stage: string): string => `imgforge-${stage}.service`;
const toUnit = (s: string): string => (s.includes('.') ? s : unit(s));

/** Every file the node receives, sorted by path. Pure. */
export function nodeTree(env: nunjucks.Environment, runtime: RuntimeSet, ctx: SeedContext, doc: NodeDoc, stages: readonly StagePlan[]): TreeFile[] {
  const node = ctx.node.hostname;
  const files: TreeFile[] = [];
  const add = (path: string, content: string, mode = 0o644, owned = true): void => { files.push({ path, mode, content, owned }); };
  for (const [rel, text] of runtime) {
    if (!rel.startsWith('usr/')) continue;
    // Programs have no extension; what they source or read (lib.sh, stages/*.sh, event.awk) is not run directly.
    add(`/${rel}`, text, /\.[a-z]+$/.test(rel) ? 0o644 : 0o755);
  }
  add(`${LIB}/node.schema.json`, nodeDocJsonSchema());
  add('/etc/imgforge/node.json', `${JSON.stringify(doc, null, 2)}\n`);
  for (const s of stages) {
    // A stage it waits for without requiring its success is still pulled in (Wants=).
    const wants = s.after.filter((a) => !a.includes('.')).map(unit);
    add(`${UNITS}/${unit(s.name)}`, renderTemplate(env, 'units/stage.service.njk', {
      node, stage: s, requires: s.requires.map(toUnit), after: s.after.map(toUnit), wants,
    }));
  }
  add(`${UNITS}/imgforge-report.service`, renderTemplate(env, 'units/report.service.njk', {}));
  add(`${UNITS}/imgforge.target`, renderTemplate(env, 'units/imgforge.target.njk', { node, units: [...stages.map((s) => unit(s.name)), 'imgforge-report.service'] }));
  files.push({ path: `${UNITS}/multi-user.target.wants/imgforge.target`, mode: 0o777, content: '../imgforge.target', symlink: true, owned: true });
  add('/etc/hosts', renderTemplate(env, 'files/hosts.njk', ctx), 0o644, false);
  add('/etc/modules-load.d/imgforge.conf', renderTemplate(env, 'files/modules.conf.njk', ctx), 0o644, false);
  add('/etc/sysctl.d/90-imgforge.conf', renderTemplate(env, 'files/sysctl.conf.njk', ctx), 0o644, false);
  add('/etc/systemd/journald.conf.d/90-imgforge.conf', renderTemplate(env, 'files/journald.conf.njk', ctx), 0o644, false);
  add('/etc/systemd/timesyncd.conf.d/90-imgforge.conf', renderTemplate(env, 'files/timesyncd.conf.njk', ctx), 0o644, false);
  // What the bootstrap checks on every boot: sha256sum(1) -c lines, paths relative to /.
  const sums = files.filter((f) => f.owned && !f.symlink).sort(byPath)
    .map((f) => `${createHash('sha256').update(f.content).digest('hex')}  ${f.path.slice(1)}\n`).join('');
  add(`${LIB}/SHA256SUMS`, sums);
  return files.sort(byPath);
}

const byPath = (a: TreeFile, b: TreeFile): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * The tree as a tar archive (POSIX ustar, as tar-stream writes it): files and symlinks only, so
 * extracting it never changes an existing folder; owner root, fixed times, sorted: the same tree
 * gives the same bytes.
 */
export async function packBundle(files: readonly TreeFile[]): Promise<Bundle> {
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
  const tar = Buffer.concat(chunks);
  return { files, tar, sha256: createHash('sha256').update(tar).digest('hex') };
}
