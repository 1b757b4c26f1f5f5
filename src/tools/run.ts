import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa, ExecaError } from 'execa';
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
  mtype: { command: 'mtype', pkg: 'mtools' },
  debugfs: { command: 'debugfs', pkg: 'e2fsprogs' },
  e2fsck: { command: 'e2fsck', pkg: 'e2fsprogs' },
  xz: { command: 'xz', pkg: 'xz-utils' },
  filefrag: { command: 'filefrag', pkg: 'e2fsprogs' },
  blkid: { command: 'blkid', pkg: 'util-linux' },
  blockdev: { command: 'blockdev', pkg: 'util-linux' },
  partx: { command: 'partx', pkg: 'util-linux' },
} as const satisfies Record<string, Tool>;

/** What callers may set; everything else about how tools run is fixed here. */
export interface RunOptions {
  readonly input?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly timeout?: number;
}

/** Throw ToolMissing, naming the Debian package, unless the command is on PATH. */
export function requireCommand(tool: Tool): void {
  const found = (process.env['PATH'] ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, tool.command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!found) throw imgforgeError('ToolMissing', { tool: tool.command, pkg: tool.pkg });
}

const tail = (text: string): string => text.trim().split('\n').slice(-3).join(' | ');

/**
 * How imgforge runs a tool to completion (QEMU, which runs alongside, starts in tools/qemu.ts):
 * argument arrays only, never a shell. A missing
 * program is an environment error naming its package; a failure names the tool and its stderr.
 */
export async function run(tool: Tool, args: readonly string[], options: RunOptions = {}): Promise<{ stdout: string; stderr: string }> {
  const r = await runBinary(tool, args, options);
  return { stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

/** As run, with stdout as bytes (file contents read out of an image). */
export async function runBinary(tool: Tool, args: readonly string[], options: RunOptions = {}): Promise<{ stdout: Buffer; stderr: string }> {
  try {
    const r = await execa(tool.command, args, {
      stripFinalNewline: false, encoding: 'buffer', input: options.input, env: options.env, cwd: options.cwd, timeout: options.timeout,
    });
    return { stdout: Buffer.from(r.stdout), stderr: Buffer.from(r.stderr).toString('utf8') };
  } catch (e) {
    if (e instanceof ExecaError) {
      if ((e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' || e.code === 'ENOENT') {
        throw imgforgeError('ToolMissing', { tool: tool.command, pkg: tool.pkg }, { cause: e });
      }
      const status = e.signal ? `was killed by ${e.signal}` : `exited with status ${e.exitCode}`;
      const raw: unknown = e.stderr;
      const stderr = raw instanceof Uint8Array ? Buffer.from(raw).toString('utf8') : String(raw ?? '');
      throw imgforgeError('ToolFailed', { tool: tool.command, status, stderr: tail(stderr) }, {
        cause: e, debugDetails: [`command: ${[tool.command, ...args].join(' ')}`],
      });
    }
    throw e;
  }
}
