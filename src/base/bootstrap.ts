import { chmod, lstat, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { imgforgeError } from '../errors/error.ts';
import { encodeGpt } from '../image/gpt.ts';
import { grubBiosBoot } from '../image/grub-bios.ts';
import { deriveGuid } from '../image/guid.ts';
import { createEnvironment, renderTemplate } from '../render/environment.ts';
import type { TemplateSet } from '../render/templates.ts';
import { bootstrapDigest, type BootstrapSpec } from './bootstrap-spec.ts';

export type { BootstrapSpec } from './bootstrap-spec.ts';
import { grubMkstandalone, hostDpkgArch, mke2fsFromTree, mmd, mmdebstrap, requireArchRuns } from '../tools/bootstrap-tools.ts';
import { mcopy, mkfsFat } from '../tools/fat.ts';

const MIB = 2 ** 20;
const ESP_BYTES = 64 * MIB;
/** The BIOS boot partition's size in Ubuntu's cloud images (livecd-rootfs: 4 MiB p14). */
const BIOS_BOOT_BYTES = 4 * MIB;
const ROOT_LABEL = 'cloudimg-rootfs';
/** UEFI removable-media paths (UEFI 2.10 §3.5.1.1), so firmware boots it without an NVRAM entry. */
const EFI = {
  amd64: { format: 'x86_64-efi', file: 'BOOTX64.EFI', console: 'ttyS0,115200n8', serial: true },
  // No GRUB serial driver on arm64-efi (its ns8250 is x86's): it writes to the firmware's console.
  arm64: { format: 'arm64-efi', file: 'BOOTAA64.EFI', console: 'ttyAMA0,115200n8', serial: false },
} as const;
const GRUB_MODULES = ['part_gpt', 'ext2', 'fat', 'search', 'search_fs_uuid', 'linux', 'normal', 'configfile', 'echo', 'serial', 'terminal', 'gzio', 'all_video'];
/** i386-pc: only these go into core.img, whose size real mode limits to 480 KiB (so no memdisk of every module). */
const GRUB_BIOS_MODULES = ['biosdisk', ...GRUB_MODULES.filter((m) => m !== 'fat' && m !== 'all_video')];


/** Bytes a tree needs on ext4: file sizes rounded up to 4 KiB blocks, plus a block per entry. */
async function du(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const s = await lstat(join(e.parentPath, e.name));
    total += Math.ceil(s.size / 4096) * 4096 + 4096;
  }
  return total;
}

/**
 * A bootable GPT image (ESP + ext4 root labelled cloudimg-rootfs, root last) built from
 * packages with mmdebstrap, without mounts: the tree goes into ext4 with mke2fs -d, GRUB is a
 * standalone EFI binary copied in with mtools. Cached under bootstrap/<digest>.img.
 */
export async function bootstrapBase(spec: BootstrapSpec, opts: { cacheDir: string; templates: TemplateSet; epoch: number; onStep?: (s: string) => void }): Promise<{ raw: string; digest: string }> {
  const digest = bootstrapDigest(spec, opts.templates);
  const raw = join(opts.cacheDir, 'bootstrap', `${digest}.img`);
  if (await stat(raw).then(() => true, () => false)) return { raw, digest };
  await mkdir(join(opts.cacheDir, 'bootstrap'), { recursive: true, mode: 0o700 });
  const work = await mkdtemp(join(opts.cacheDir, 'bootstrap', '.work-'));
  try {
    const env = createEnvironment(opts.templates);
    const hook = join(work, 'customize.sh');
    await writeFile(hook, renderTemplate(env, 'bootstrap/customize.sh.njk', { rootLabel: ROOT_LABEL }));
    await chmod(hook, 0o755);
    let setupHook: string | undefined;
    if (spec.initramfsModules) {
      setupHook = join(work, 'setup.sh');
      await writeFile(setupHook, renderTemplate(env, 'bootstrap/setup.sh.njk', { modules: spec.initramfsModules }));
      await chmod(setupHook, 0o755);
    }
    const tree = join(work, 'root');
    if (spec.arch !== hostDpkgArch()) await requireArchRuns(spec.arch);
    opts.onStep?.(`mmdebstrap ${spec.suite} (${spec.arch})`);
    await mmdebstrap({ ...spec, dir: tree, setupHook, customizeHook: hook });

    const used = await du(tree);
    const rootBytes = Math.ceil(Math.max(used * 1.25 + 256 * MIB, spec.rootBytes ?? 0) / MIB) * MIB;
    // Ubuntu's hybrid layout: p14 BIOS boot, p15 ESP, root last.
    const biosFirst = 2048, biosSectors = spec.bios ? BIOS_BOOT_BYTES / 512 : 0;
    const espFirst = biosFirst + biosSectors, espSectors = ESP_BYTES / 512;
    const rootFirst = espFirst + espSectors, rootSectors = rootBytes / 512;
    const diskSectors = rootFirst + rootSectors + 2048;
    const rootUuid = deriveGuid('bootstrap', digest, 'root-fs').toLowerCase();
    const env2 = { env, work, tree, rootUuid };
    const bios = spec.bios ? await biosChain(spec, env2, biosFirst, biosSectors) : null;
    const image = join(work, 'base.img');
    const fd = await open(image, 'w', 0o600);
    const gpt = encodeGpt({ diskSectors, diskGuid: deriveGuid('bootstrap', digest, 'disk'), bootCode: bios?.bootCode, partitions: [
      ...(bios ? [{ number: 14, typeGuid: '21686148-6449-6E6F-744E-656564454649', uniqueGuid: deriveGuid('bootstrap', digest, 'bios-boot'), firstLba: biosFirst, lastLba: biosFirst + biosSectors - 1, attributes: 0n, name: 'bios' }] : []),
      { number: 15, typeGuid: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B', uniqueGuid: deriveGuid('bootstrap', digest, 'esp'), firstLba: espFirst, lastLba: espFirst + espSectors - 1, attributes: 0n, name: 'esp' },
      { number: 1, typeGuid: '0FC63DAF-8483-4772-8E79-3D69D8477DE4', uniqueGuid: deriveGuid('bootstrap', digest, 'root'), firstLba: rootFirst, lastLba: rootFirst + rootSectors - 1, attributes: 0n, name: 'root' },
    ] });
    await fd.truncate(diskSectors * 512);
    await fd.write(gpt.primary, 0, gpt.primary.length, 0);
    await fd.write(gpt.backup, 0, gpt.backup.length, gpt.backupOffsetBytes);
    if (bios) await fd.write(bios.core, 0, bios.core.length, biosFirst * 512);
    await fd.close();

    opts.onStep?.('root file system');
    await mke2fsFromTree(image, { offsetBytes: rootFirst * 512, bytes: rootBytes, label: ROOT_LABEL, uuid: rootUuid, tree, epoch: opts.epoch });
    opts.onStep?.('EFI system partition');
    const efi = EFI[spec.arch];
    const cfg = await grubConfig(env2, efi.console, efi.serial);
    const loader = join(work, efi.file);
    await grubMkstandalone({ format: efi.format, moduleDir: join(tree, 'usr/lib/grub', efi.format), modules: GRUB_MODULES, config: cfg, out: loader });
    await mkfsFat(image, { offsetBytes: espFirst * 512, sizeBytes: ESP_BYTES, label: 'UEFI', volumeId: rootUuid.slice(0, 8), fatBits: 32, clusterSectors: 1 });
    await mmd(image, espFirst * 512, ['::/EFI', '::/EFI/BOOT']);
    await mcopy(image, espFirst * 512, [loader], '::/EFI/BOOT/');
    await rename(image, raw);
    return { raw, digest };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface Work { readonly env: ReturnType<typeof createEnvironment>; readonly work: string; readonly tree: string; readonly rootUuid: string }

async function grubConfig(w: Work, console: string, serial: boolean): Promise<string> {
  const cfg = join(w.work, 'grub.cfg');
  await writeFile(cfg, renderTemplate(w.env, 'bootstrap/grub.cfg.njk', { rootUuid: w.rootUuid, console, serial }));
  return cfg;
}

/**
 * GRUB for legacy BIOS, as the Ubuntu cloud image carries it: core.img (the same embedded config
 * as the EFI binary) in the BIOS boot partition, boot.img in the MBR, set up on bytes
 * (image/grub-bios.ts) where grub-install would need the disk as a device.
 */
async function biosChain(spec: BootstrapSpec, w: Work, first: number, sectors: number): Promise<{ bootCode: Buffer; core: Buffer }> {
  const moduleDir = join(w.tree, 'usr/lib/grub/i386-pc');
  const bootImg = await readFile(join(moduleDir, 'boot.img')).catch(() => null);
  if (spec.arch !== 'amd64' || !bootImg) {
    throw imgforgeError('BaseInvalid', { path: `bootstrap ${spec.suite}`, detail: 'legacy BIOS boot needs an amd64 base with grub-pc-bin in base.bootstrap.packages' });
  }
  const coreFile = join(w.work, 'core.img');
  await grubMkstandalone({ format: 'i386-pc', moduleDir, modules: GRUB_BIOS_MODULES, installModules: GRUB_BIOS_MODULES, config: await grubConfig(w, EFI.amd64.console, true), out: coreFile });
  const core = await readFile(coreFile);
  if (core.length > sectors * 512) throw imgforgeError('BaseInvalid', { path: `bootstrap ${spec.suite}`, detail: `GRUB's core.img (${core.length} bytes) does not fit the ${sectors * 512}-byte BIOS boot partition` });
  try {
    return grubBiosBoot(bootImg, core, first);
  } catch (e) {
    throw imgforgeError('BaseInvalid', { path: join(moduleDir, 'boot.img'), detail: (e as Error).message });
  }
}
