import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { LineSplitter, parseEvents, type Event } from '../protocol/events.ts';
import { qemuArgs, type VmSpec } from '../plan/vm.ts';
import { qmpPowerdown, spawnQemu } from '../tools/qemu.ts';

export interface ConsoleLine {
  /** Seconds since QEMU started. */
  readonly t: number;
  readonly text: string;
}

/** An event the node sent, and when it reached us (seconds since QEMU started). */
export interface ReceivedEvent {
  readonly t: number;
  readonly event: Event;
}

export interface BootResult {
  readonly lines: readonly ConsoleLine[];
  readonly events: readonly ReceivedEvent[];
  /** Lines on the event port that were not events (a torn line at a power cut), with why. */
  readonly rejected: readonly string[];
  /** Why the boot ended: the awaited event came, we cut the power, QEMU exited, or time ran out. */
  readonly outcome: 'done' | 'killed' | 'exited' | 'timeout';
  /** What went wrong in beforePowerOff, if anything. */
  readonly hookError?: string;
}

export interface BootOptions {
  readonly timeoutMs: number;
  /** The boot is done at the first event this accepts: beforePowerOff runs, then a clean power-off. */
  readonly doneOn?: ((e: Event) => boolean) | undefined;
  /** Or at the first console line matching this (a machine that sends no events). */
  readonly doneWhen?: RegExp | undefined;
  /** Work for the running node once done (a command over SSH), before it is powered off. */
  readonly beforePowerOff?: (() => Promise<void>) | undefined;
  /** A failure after which nothing more will come: power off 5 s later, if doneOn has not fired. */
  readonly giveUpOn?: ((e: Event) => boolean) | undefined;
  /** A console line after which only a little more can come (cloud-init's last words): power off graceMs later. */
  readonly giveUpWhen?: RegExp | undefined;
  /** @default 240000 */
  readonly graceMs?: number | undefined;
  /** Cut the power (SIGKILL) at the first console line matching this, to test crash safety. */
  readonly killWhen?: RegExp | undefined;
  readonly onLine?: ((line: ConsoleLine) => void) | undefined;
  readonly onEvent?: ((e: ReceivedEvent) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

const clean = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/[\r\x00]/g, '').trimEnd();
const EVENT_POLL_MS = 100;

/** Boot once, reading the serial console and the event port; the VM never outlives this call. */
export async function boot(vm: VmSpec, opts: BootOptions): Promise<BootResult> {
  const child = spawnQemu(vm.arch, qemuArgs(vm));
  const started = performance.now();
  const now = (): number => Math.round(performance.now() - started) / 1000;
  let exited = false;
  const ended = child.then(() => { exited = true; });
  const lines: ConsoleLine[] = [];
  const events: ReceivedEvent[] = [];
  const rejected: string[] = [];
  let outcome: BootResult['outcome'] = 'exited';
  let hookError: string | undefined;
  let finishing: Promise<void> | undefined;
  const cut = (why: BootResult['outcome']): void => {
    if (exited) return;
    if (!finishing) outcome = why;
    child.kill('SIGKILL');
  };
  /** A clean power-off (after the hook), so the next boot starts from what a node would have. */
  const finish = (why: BootResult['outcome'], hook?: () => Promise<void>): void => {
    if (finishing || exited) return;
    outcome = why;
    finishing = (async () => {
      if (hook) await hook().catch((e: Error) => { hookError = e.message; });
      await qmpPowerdown(vm.qmp).catch(() => child.kill('SIGKILL'));
      const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      await ended;
      clearTimeout(killer);
    })();
  };
  const timer = setTimeout(() => cut('timeout'), opts.timeoutMs);
  const onAbort = (): void => cut('killed');
  opts.signal?.addEventListener('abort', onAbort);
  let grace: NodeJS.Timeout | undefined;
  const giveUp = (ms: number): void => {
    if (grace && ms >= graceLeft()) return;
    clearTimeout(grace);
    graceEnds = performance.now() + ms;
    grace = setTimeout(() => finish('exited'), ms);
  };
  let graceEnds = Infinity;
  const graceLeft = (): number => graceEnds - performance.now();

  // The event port is a file QEMU appends to (-chardev file): read what is new, line by line.
  const splitter = new LineSplitter();
  let offset = 0;
  const poll = async (): Promise<void> => {
    const fh = await open(vm.events, 'r').catch(() => undefined);
    if (!fh) return;
    try {
      for (;;) {
        const buf = Buffer.alloc(65536);
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        for (const line of splitter.push(buf.subarray(0, bytesRead).toString('utf8'))) {
          const parsed = parseEvents(line);
          rejected.push(...parsed.rejected.map((r) => `${r.line} (${r.problem})`));
          for (const event of parsed.events) {
            const got = { t: now(), event };
            events.push(got);
            opts.onEvent?.(got);
            if (opts.doneOn?.(event)) finish('done', opts.beforePowerOff);
            else if (opts.giveUpOn?.(event)) giveUp(5_000);
          }
        }
      }
    } finally {
      await fh.close();
    }
  };
  let polling = Promise.resolve();
  const poller = setInterval(() => { polling = polling.then(poll); }, EVENT_POLL_MS);

  const stderr: string[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  try {
    for await (const raw of createInterface({ input: child.stdout })) {
      const line = { t: now(), text: clean(raw) };
      if (!line.text) continue;
      lines.push(line);
      opts.onLine?.(line);
      if (opts.killWhen?.test(line.text)) cut('killed');
      else if (opts.doneWhen?.test(line.text)) finish('done', opts.beforePowerOff);
      else if (opts.giveUpWhen?.test(line.text)) giveUp(opts.graceMs ?? 240_000);
    }
    await ended;
    await finishing;
  } finally {
    clearTimeout(timer);
    clearTimeout(grace);
    clearInterval(poller);
    opts.signal?.removeEventListener('abort', onAbort);
    if (!exited) child.kill('SIGKILL');
  }
  await polling;
  await poll();
  if (outcome === 'exited' && stderr.length) lines.push({ t: now(), text: `qemu: ${stderr.join('').trim()}` });
  return { lines, events, rejected, outcome, ...(hookError ? { hookError } : {}) };
}
