import { requireCommand, run, type Tool } from './run.ts';

const SSH: Tool = { command: 'ssh', pkg: 'openssh-client' };

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** Private key file. */
  readonly key: string;
}

/**
 * Run a command on a test node over SSH, as that user with that key only. The node is a VM on
 * 127.0.0.1 whose host keys are new at every first boot, so they are neither checked nor kept.
 */
export async function sshRun(target: SshTarget, command: string, timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run(SSH, [
    '-i', target.key, '-p', String(target.port),
    '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=15',
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
    `${target.user}@${target.host}`, '--', command,
  ], { timeout: timeoutMs });
  return stdout;
}

/**
 * `ssh` on this terminal, as the user would type it: a shell when no command is given, else the
 * command's exit status (255 when ssh itself failed, as ssh(1) says). The user's own keys and
 * agent are used unless a key is named; a lab VM's host key is new at every `lab up`, so it is
 * neither checked nor kept.
 */
export async function sshInteractive(target: Omit<SshTarget, 'key'> & { readonly key?: string | undefined }, command: readonly string[]): Promise<number> {
  requireCommand(SSH);
  const { spawn } = await import('node:child_process');
  const args = [
    ...(target.key ? ['-i', target.key, '-o', 'IdentitiesOnly=yes'] : []), '-p', String(target.port),
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=15',
    ...(process.stdin.isTTY ? [] : ['-o', 'BatchMode=yes']),
    `${target.user}@${target.host}`, ...(command.length ? ['--', ...command] : []),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(SSH.command, args, { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 255)));
  });
}

/** A TCP port free on 127.0.0.1 right now (the kernel picks it), for a VM's forwarded SSH port. */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
