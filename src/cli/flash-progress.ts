/**
 * How `imgforge flash` reports progress: cli-progress bars (one per drive, with rate and ETA) on a
 * terminal, JSON lines on stdout with --json, or nothing.
 */
import type { SingleBar } from 'cli-progress';
import type { FlashPhase } from '../execute/flash.ts';
import { formatBytes } from '../util/size.ts';
import type { Io } from './output.ts';

export interface Reporter {
  progress(target: string, phase: FlashPhase, done: number, total: number): void;
  stop(): void;
}

const MIB = 2 ** 20;

/** One JSON object per line, so a tool reads events as they come. */
export function jsonReporter(io: Io): Reporter {
  let last = new Map<string, number>();
  return {
    progress(target, phase, done, total) {
      // At most one event per 16 MiB (and the last), so a large flash does not flood the reader.
      const key = `${target}\0${phase}`;
      if (done < total && done - (last.get(key) ?? -Infinity) < 16 * MIB) return;
      last.set(key, done);
      io.out(`${JSON.stringify({ event: 'progress', target, phase, done, total })}\n`);
    },
    stop() { last = new Map(); },
  };
}

/** Bars on stderr: bytes done of total, MiB/s and time left for the phase under way. cli-progress loads only for a terminal. */
export async function barReporter(): Promise<Reporter> {
  const { MultiBar, Presets } = await import('cli-progress');
  const multi = new MultiBar({
    format: '{target} {phase} {bar} {percentage}% {done}/{all} {rate} ETA {eta_formatted}',
    stream: process.stderr, hideCursor: true, clearOnComplete: false, etaBuffer: 20,
  }, Presets.shades_classic);
  const bars = new Map<string, { bar: SingleBar; phase: string; started: number }>();
  return {
    progress(target, phase, done, total) {
      let b = bars.get(target);
      if (!b) { b = { bar: multi.create(total, 0), phase, started: performance.now() }; bars.set(target, b); }
      if (b.phase !== phase) { b.phase = phase; b.started = performance.now(); b.bar.setTotal(total); }
      const seconds = (performance.now() - b.started) / 1000;
      b.bar.setTotal(total);
      b.bar.update(done, { target, phase: phase.padEnd(6), done: formatBytes(done), all: formatBytes(total), rate: seconds > 0.2 ? `${(done / MIB / seconds).toFixed(1)} MiB/s` : '' });
    },
    stop() { multi.stop(); },
  };
}

export const quietReporter: Reporter = { progress() { /* none */ }, stop() { /* none */ } };
