import { execa, ExecaError, type Options } from 'execa';
import { imgforgeError } from '../errors/error.ts';

/** An external program and the Debian package that provides it (for the "missing tool" hint). */
export interface Tool {
  readonly command: string;
  readonly pkg: string;
}

export const TOOLS = {
  qemuImg: { command: 'qemu-img', pkg: 'qemu-utils' },
  sgdisk: { command: 'sgdisk', pkg: 'gdisk' },
  sfdisk: { command: 'sfdisk', pkg: 'fdisk' },
  mkfsFat: { command: 'mkfs.fat', pkg: 'dosfstools' },
  fsckFat: { command: 'fsck.fat', pkg: 'dosfstools' },
  mcopy: { command: 'mcopy', pkg: 'mtools' },
  mdir: { command: 'mdir', pkg: 'mtools' },
  debugfs: { command: 'debugfs', pkg: 'e2fsprogs' },
  e2fsck: { command: 'e2fsck', pkg: 'e2fsprogs' },
  xz: { command: 'xz', pkg: 'xz-utils' },
} as const satisfies Record<string, Tool>;

const tail = (text: string): string => text.trim().split('\n').slice(-3).join(' | ');

/**
 * The only place imgforge starts a process: argument arrays only, never a shell. A missing
 * program is an environment error naming its package; a failure names the tool and its stderr.
 */
export async function run(tool: Tool, args: readonly string[], options: Options = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    const r = await execa(tool.command, args, { stripFinalNewline: false, ...options });
    return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  } catch (e) {
    if (e instanceof ExecaError) {
      if ((e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' || e.code === 'ENOENT') {
        throw imgforgeError('ToolMissing', { tool: tool.command, pkg: tool.pkg }, { cause: e });
      }
      const status = e.signal ? `was killed by ${e.signal}` : `exited with status ${e.exitCode}`;
      throw imgforgeError('ToolFailed', { tool: tool.command, status, stderr: tail(String(e.stderr ?? '')) }, {
        cause: e, debugDetails: [`command: ${[tool.command, ...args].join(' ')}`],
      });
    }
    throw e;
  }
}
