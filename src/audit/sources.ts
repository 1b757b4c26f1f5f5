/**
 * Reading what to audit. An image: every data byte of the disk (holes read as zeros and are
 * skipped), each key placed in its partition, and the tars on its CIDATA partition opened for
 * their files' modes. A folder (a seed, a render tree): every file, tars opened the same way.
 */
import { createReadStream } from 'node:fs';
import { lstat, open, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { probeBase } from '../image/probe.ts';
import { readPieces } from '../execute/image/copy.ts';
import { dataExtents } from '../tools/filefrag.ts';
import { mdir, mtypeBytes } from '../tools/fat.ts';
import { identity } from './classify.ts';
import { KeyScanner, SCAN_WINDOW, type FoundCert, type FoundKey } from './scan.ts';
import { readTar, type TarEntry } from './tar.ts';

/** A key found, where: a partition and the offset in the image, or a file (in a tar: "a.tar:path") and its mode. */
export interface Hit {
  readonly key: FoundKey;
  readonly where: string;
  /** Byte offset in the image (raw hits) or in the file. */
  readonly offset: number;
  /** The file's path on the node (tar entries, tree/ files), for naming the key. */
  readonly nodePath?: string;
  /** Permission bits of the file holding it; absent for raw hits. */
  readonly mode?: number;
}

export interface Evidence {
  readonly type: 'image' | 'folder';
  readonly raw: Hit[];
  readonly files: Hit[];
  readonly certs: FoundCert[];
  /** The node's node.json (from its bundle or tree), when found. */
  nodeJson: string | null;
}

const NODE_JSON = 'etc/imgforge/node.json';

/** A tar's files: each key with the entry's mode; node.json remembered. */
function fromTar(entries: readonly TarEntry[], label: string, ev: Evidence): void {
  for (const e of entries) {
    if (e.name === NODE_JSON) ev.nodeJson = e.content.toString('utf8');
    const s = new KeyScanner();
    s.feed(e.content, 0);
    ev.certs.push(...s.certs);
    for (const key of s.keys) ev.files.push({ key, where: `${label}:${e.name}`, offset: key.offset, nodePath: e.name, mode: e.mode });
  }
}

/** What a scanner fed by another pass over the image (the build's digest) saw: every data byte from `from` on. */
export interface Scanned {
  readonly scanner: KeyScanner;
  readonly from: number;
}

/**
 * Scan an image. With `scanned` (which may still be under way: its files are read meanwhile),
 * only the bytes before `from` are read here, with a window's overlap for a key that straddles it.
 */
export async function scanImage(path: string, scanned?: Scanned | Promise<Scanned>): Promise<Evidence> {
  const layout = probeBase(path);
  const ev: Evidence = { type: 'image', raw: [], files: [], certs: [], nodeJson: null };
  const cidata = layout.partitions.find((p) => p.fs === 'vfat' && p.label.toUpperCase() === 'CIDATA');
  if (cidata) {
    const at = cidata.firstLba * 512;
    for (const m of (await mdir(path, at)).matchAll(/^::\/?(\S+\.tar)\s*$/gim)) {
      const name = m[1]!;
      fromTar(await readTar(await mtypeBytes(path, at, name)).catch(() => []), `CIDATA/${name}`, ev);
    }
  }
  const done = await scanned;
  const scanner = new KeyScanner();
  const until = done ? Math.min(layout.sizeBytes, done.from + SCAN_WINDOW) : layout.sizeBytes;
  const fd = await open(path, 'r');
  try {
    await readPieces(fd, await dataExtents(path, layout.sizeBytes), 0, until, (chunk, pos) => scanner.feed(chunk, pos));
  } finally {
    await fd.close();
  }
  const keys = new Map(scanner.keys.map((k) => [k.offset, k]));
  const certs = new Map(scanner.certs.map((c) => [c.offset, c]));
  for (const k of done?.scanner.keys ?? []) keys.set(k.offset, k);
  for (const c of done?.scanner.certs ?? []) certs.set(c.offset, c);
  const partOf = (offset: number): string => {
    const p = layout.partitions.find((x) => offset >= x.firstLba * 512 && offset <= x.lastLba * 512 + 511);
    return p ? `partition ${p.number}${p.label || p.partlabel ? ` (${p.label || p.partlabel})` : ''}` : 'outside every partition';
  };
  ev.raw.push(...[...keys.values()].sort((a, b) => a.offset - b.offset).map((key) => ({ key, where: partOf(key.offset), offset: key.offset })));
  ev.certs.push(...certs.values());
  return ev;
}

async function* walk(dir: string): AsyncGenerator<string> {
  for (const d of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, d.name);
    if (d.isDirectory()) yield* walk(p);
    else if (d.isFile()) yield p;
  }
}

export async function scanFolder(dir: string): Promise<Evidence> {
  const ev: Evidence = { type: 'folder', raw: [], files: [], certs: [], nodeJson: null };
  for await (const file of walk(dir)) {
    const rel = relative(dir, file);
    const mode = (await lstat(file)).mode & 0o7777;
    const s = new KeyScanner();
    let pos = 0;
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      s.feed(chunk, pos);
      pos += chunk.length;
    }
    ev.certs.push(...s.certs);
    // A render tree keeps the node's paths under tree/.
    const nodePath = rel.startsWith('tree/') ? rel.slice(5) : rel;
    if (nodePath === NODE_JSON) ev.nodeJson = await readFile(file, 'utf8');
    const entries = file.endsWith('.tar') ? await readTar(await readFile(file)).catch(() => null) : null;
    if (entries) fromTar(entries, rel, ev);
    // Keys in a tar are named by its entries (path and mode); what only the raw bytes show stays as found.
    const named = entries ? new Set(ev.files.filter((h) => h.where.startsWith(`${rel}:`)).map((h) => identity(h.key))) : new Set<string>();
    for (const key of s.keys) if (!named.has(identity(key))) ev.files.push({ key, where: rel, offset: key.offset, nodePath, mode });
  }
  return ev;
}
