// A node as the fast tests see it: a rig whose /dev/vda is a real GPT disk image in one of the
// shapes imgforge builds, with the node's data from the plan of a real config.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { encodeGpt } from '../../src/image/gpt.ts';
import { deriveGuid } from '../../src/image/guid.ts';
import { join } from 'node:path';
import { loadCluster } from '../../src/config/index.ts';
import { Layout } from '../../src/config/schema/layout.ts';
import { planCluster } from '../../src/plan/index.ts';
import { stageSize } from '../../src/plan/node-doc.ts';
import { loadRuntime } from '../../src/render/runtime.ts';
import { loadTemplates } from '../../src/render/templates.ts';
import type { NodeDoc } from '../../src/protocol/node-doc.ts';
import { loadPackageSources } from '../../src/plan/packages.ts';
import { ROOT } from '../helpers.ts';
import { Rig } from './rig.ts';

export interface PartSpec {
  readonly nr: number;
  readonly first: number;
  readonly last: number;
  readonly type: keyof typeof TYPES;
  readonly name: string;
}

const TYPES = {
  biosBoot: '21686148-6449-6E6F-744E-656564454649', esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4', basicData: 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
} as const;

/** Image shapes as imgforge's build leaves them: partitions before root kept, CIDATA, root last. */
export const SHAPES: Readonly<Record<string, { parts: readonly PartSpec[]; rootNr: number }>> = {
  // Ubuntu 24.04's cloud image (p14 BIOS boot, p15 ESP, p16 /boot), root 3.5 GiB: over 2 GiB, as every Ubuntu cloud image's is.
  ubuntu: { rootNr: 1, parts: [
    { nr: 14, first: 2048, last: 10239, type: 'biosBoot', name: '' }, { nr: 15, first: 10240, last: 227327, type: 'esp', name: '' },
    { nr: 16, first: 227328, last: 2324479, type: 'linux', name: '' }, { nr: 2, first: 2324480, last: 2390015, type: 'basicData', name: 'cidata' },
    { nr: 1, first: 2390016, last: 2390016 + 7340032 - 1, type: 'linux', name: 'cloudimg-rootfs' }] },
  // Hardkernel's MBR image made GPT: p1 BOOT kept, CIDATA, root after it.
  hardkernel: { rootNr: 2, parts: [
    { nr: 1, first: 2048, last: 526335, type: 'linux', name: 'boot' }, { nr: 3, first: 526336, last: 591871, type: 'basicData', name: 'cidata' },
    { nr: 2, first: 591872, last: 591872 + 5818368 - 1, type: 'linux', name: 'root' }] }, // root 2.98 GB
};

const cluster = await loadCluster(join(ROOT, 'test/fixtures/qemu.config.mjs'));
const { bundles } = await planCluster(cluster, ['vm1'], { templates: await loadTemplates(), runtime: await loadRuntime(), packages: await loadPackageSources(), version: 'test' });
/** vm1's node.json, as the plan renders it. */
export const VM1_DOC: NodeDoc = JSON.parse(bundles.get('vm1')!.files.find((f) => f.path === '/etc/imgforge/node.json')!.content) as NodeDoc;

/** vm1's document with another layout. */
export function withLayout(layout: unknown): NodeDoc {
  const l = Layout.parse(layout);
  return {
    ...VM1_DOC,
    layout: { root: { size: stageSize(l.root.size) }, reserved: l.reserved.map((r) => ({ name: r.name, size: stageSize(r.size), format: r.format, mountpoint: r.mountpoint ?? '' })) },
  };
}

export class Machine extends Rig {
  readonly rootNr: number;

  constructor(shape: keyof typeof SHAPES, diskBytes: number, doc: NodeDoc) {
    super();
    const s = SHAPES[shape]!;
    this.rootNr = s.rootNr;
    const disk = this.path('dev/vda');
    const end = Math.max(...s.parts.map((p) => p.last));
    // The compact image as built, then written to a larger disk: the backup GPT is where the image ended.
    const sectors = Math.ceil((end + 34) / 2048) * 2048;
    const gpt = encodeGpt({ diskSectors: sectors, diskGuid: deriveGuid('rig', shape, 'disk'), partitions: s.parts.map((p) => ({
      number: p.nr, typeGuid: TYPES[p.type], uniqueGuid: deriveGuid('rig', shape, String(p.nr)), firstLba: p.first, lastLba: p.last, attributes: 0n, name: p.name,
    })) });
    const fd = openSync(disk, 'w');
    writeSync(fd, gpt.primary, 0, gpt.primary.length, 0);
    writeSync(fd, gpt.backup, 0, gpt.backup.length, gpt.backupOffsetBytes);
    closeSync(fd);
    truncateSync(disk, diskBytes);
    const root = s.parts.find((p) => p.nr === s.rootNr)!;
    this.write('.fake/root-majmin', '254:1\n');
    this.write(`.fake/fs-vda${s.rootNr}`, `${(root.last - root.first + 1) * 512}\n`);
    this.installNode(doc);
    this.boot();
  }

  /** Power on: the kernel reads the table afresh, nothing is mounted. */
  boot(): void {
    rmSync(this.path('sys/block'), { recursive: true, force: true });
    rmSync(this.path('sys/dev'), { recursive: true, force: true });
    rmSync(this.path('.fake/mounts'), { force: true });
    mkdirSync(this.path('sys/block/vda'), { recursive: true });
    mkdirSync(this.path('sys/dev/block'), { recursive: true });
    const { size } = { size: Number(spawnSync('stat', ['-c', '%s', this.path('dev/vda')], { encoding: 'utf8' }).stdout) };
    writeFileSync(this.path('sys/block/vda/size'), `${size / 512}\n`);
    symlinkSync(`../../block/vda/vda${this.rootNr}`, this.path('sys/dev/block/254:1'));
    const r = this.run(['partx', '-u', '/dev/vda']);
    if (r.status !== 0) throw new Error(r.stderr);
    this.clearCalls();
  }

  /** The disk's table: [number, start, end, type, name] per partition. */
  table(): string[][] {
    const r = spawnSync('partx', ['-g', '-o', 'NR,START,END,TYPE,NAME', this.path('dev/vda')], { encoding: 'utf8' });
    return r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
  }

  verify(): string {
    return spawnSync('sgdisk', ['-v', this.path('dev/vda')], { encoding: 'utf8' }).stdout;
  }

  signature(dev: string): string | null {
    try {
      return this.read(`.fake/sig-${dev}`).trim();
    } catch {
      return null;
    }
  }

  setSignature(dev: string, type: string): void {
    this.write(`.fake/sig-${dev}`, `${type}\n`);
  }
}
