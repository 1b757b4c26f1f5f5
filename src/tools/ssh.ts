import { run, type Tool } from './run.ts';

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
