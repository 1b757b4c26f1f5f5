import { createInterface } from 'node:readline';
import { qemuArgs, type VmSpec } from '../plan/vm.ts';
import { qmpPowerdown, spawnQemu } from '../tools/qemu.ts';

export interface ConsoleLine {
  /** Seconds since QEMU started. */
  readonly t: number;
  readonly text: string;
}

export interface BootResult {
  readonly lines: readonly ConsoleLine[];
  /** Why the boot ended: the awaited line came, we cut the power, QEMU exited, or time ran out. */
  readonly outcome: 'done' | 'killed' | 'exited' | 'timeout';
}

export interface BootOptions {
  readonly timeoutMs: number;
  /** The boot is done (and the VM stopped) at the first line matching this. */
  readonly doneWhen: RegExp;
  /** Stop waiting (a clean power-off) graceMs after a line matching this, if doneWhen has not come. */
  readonly giveUpWhen?: RegExp | undefined;
  readonly graceMs?: number | undefined;
  /** Cut the power (SIGKILL) at the first line matching this, to test crash safety. */
  readonly killWhen?: RegExp | undefined;
  readonly onLine?: ((line: ConsoleLine) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

const clean = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/[\r\x00]/g, '').trimEnd();

/** Boot once and read the serial console until a line says we are done; the VM never outlives this call. */
export async function boot(vm: VmSpec, opts: BootOptions): Promise<BootResult> {
  const child = spawnQemu(vm.arch, qemuArgs(vm));
  const started = performance.now();
  let exited = false;
  void child.then(() => { exited = true; });
  const lines: ConsoleLine[] = [];
  let outcome: BootResult['outcome'] = 'exited';
  const stop = (why: BootResult['outcome'], signal: NodeJS.Signals): void => {
    if (!exited) { outcome = why; child.kill(signal); }
  };
  const timer = setTimeout(() => stop('timeout', 'SIGKILL'), opts.timeoutMs);
  const onAbort = (): void => stop('killed', 'SIGKILL');
  opts.signal?.addEventListener('abort', onAbort);
  const stderr: string[] = [];
  let graceTimer: NodeJS.Timeout | undefined;
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  try {
    for await (const raw of createInterface({ input: child.stdout })) {
      const line = { t: Math.round(performance.now() - started) / 1000, text: clean(raw) };
      if (!line.text) continue;
      lines.push(line);
      opts.onLine?.(line);
      if (opts.killWhen?.test(line.text)) { stop('killed', 'SIGKILL'); break; }
      const done = opts.doneWhen.test(line.text);
      if (!done && opts.giveUpWhen?.test(line.text) && graceTimer === undefined) {
        // Work ordered after the give-up line (a unit after cloud-final) still gets its chance.
        graceTimer = setTimeout(() => {
          // No more lines are coming that matter: power off; the loop ends when QEMU exits.
          outcome = 'exited';
          qmpPowerdown(vm.qmp).catch(() => child.kill('SIGKILL'));
          setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 120_000).unref();
        }, opts.graceMs ?? 240_000);
      }
      if (done) {
        outcome = 'done';
        // A clean power-off, so the next boot of the same disk starts from what a node would have.
        await qmpPowerdown(vm.qmp).catch(() => child.kill('SIGKILL'));
        const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
        await child;
        clearTimeout(killer);
        break;
      }
    }
    await child;
  } finally {
    clearTimeout(timer);
    clearTimeout(graceTimer);
    opts.signal?.removeEventListener('abort', onAbort);
    if (!exited) child.kill('SIGKILL');
  }
  if (outcome === 'exited' && stderr.length) lines.push({ t: Math.round(performance.now() - started) / 1000, text: `qemu: ${stderr.join('').trim()}` });
  return { lines, outcome };
}
