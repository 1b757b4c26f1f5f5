import { imgforgeError, isImgforgeError } from '../errors/error.ts';
import { run, type Tool } from './run.ts';

const MMDEBSTRAP: Tool = { command: 'mmdebstrap', pkg: 'mmdebstrap' };
const GRUB_MKSTANDALONE: Tool = { command: 'grub-mkstandalone', pkg: 'grub-common' };
const MKE2FS: Tool = { command: 'mke2fs', pkg: 'e2fsprogs' };
const MMD: Tool = { command: 'mmd', pkg: 'mtools' };
const ARCH_TEST: Tool = { command: 'arch-test', pkg: 'arch-test' };

/** dpkg's name for the architecture this process runs on. */
export const hostDpkgArch = (): string => (process.arch === 'x64' ? 'amd64' : process.arch);

/**
 * A base of another architecture runs its packages' setup scripts under qemu-user through
 * binfmt_misc. mmdebstrap checks that with arch-test (mmdebstrap(1) "check") and stops with
 * "install arch-test" or a binfmt warning; checking first names what to install.
 */
export async function requireArchRuns(arch: string): Promise<void> {
  try {
    await run(ARCH_TEST, [arch]);
  } catch (e) {
    if (!isImgforgeError(e) || e.code !== 'ToolFailed') throw e;
    // arch-test says why on stdout ("arm64: not supported on this machine/kernel").
    const said = (e.cause as { stdout?: Uint8Array } | undefined)?.stdout;
    throw imgforgeError('ForeignArch', { arch, host: hostDpkgArch(), detail: said?.length ? Buffer.from(said).toString('utf8').trim() : e.message }, { cause: e });
  }
}

/**
 * mmdebstrap a Debian or Ubuntu tree into `dir`. --mode=auto runs as root when imgforge is root
 * and in a user namespace (unshare) otherwise (mmdebstrap(1) "MODES").
 */
export async function mmdebstrap(opts: { suite: string; mirror: string; arch: string; packages: readonly string[]; dir: string; setupHook?: string | undefined; customizeHook: string }): Promise<void> {
  await run(MMDEBSTRAP, [
    '--mode=auto',
    '--variant=minbase',
    `--arch=${opts.arch}`,
    `--include=${opts.packages.join(',')}`,
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    ...(opts.setupHook ? [`--setup-hook=${opts.setupHook}`] : []),
    `--customize-hook=${opts.customizeHook}`,
    opts.suite,
    opts.dir,
    opts.mirror,
  ], { timeout: 30 * 60_000 });
}

/** A GRUB EFI binary or i386-pc core.img with its config embedded, its modules taken from the target tree. */
export async function grubMkstandalone(opts: { format: string; moduleDir: string; modules: readonly string[]; installModules?: readonly string[]; config: string; out: string }): Promise<void> {
  await run(GRUB_MKSTANDALONE, [
    '-O', opts.format,
    '-d', opts.moduleDir,
    `--modules=${opts.modules.join(' ')}`,
    // Without it the memdisk holds every module: fine for EFI, too big for an i386-pc core.img.
    ...(opts.installModules ? [`--install-modules=${opts.installModules.join(' ')}`] : []),
    '--locales=',
    '--themes=',
    '--fonts=',
    '-o', opts.out,
    `boot/grub/grub.cfg=${opts.config}`,
  ]);
}

/** mke2fs -d: an ext4 file system holding a tree, written at a byte offset of an image. */
export async function mke2fsFromTree(image: string, opts: { offsetBytes: number; bytes: number; label: string; uuid: string; tree: string; epoch: number }): Promise<void> {
  await run(MKE2FS, [
    '-q', '-F',
    '-t', 'ext4',
    '-b', '4096',
    '-L', opts.label,
    '-U', opts.uuid,
    '-E', `offset=${opts.offsetBytes},root_owner=0:0`,
    '-d', opts.tree,
    image,
    String(opts.bytes / 4096),
  ], { env: { E2FSPROGS_FAKE_TIME: String(opts.epoch), LC_ALL: 'C' } });
}

/** Make folders in a FAT file system at an offset. */
export async function mmd(image: string, offsetBytes: number, dirs: readonly string[]): Promise<void> {
  await run(MMD, ['-i', `${image}@@${offsetBytes}`, ...dirs], { env: { MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C' } });
}
