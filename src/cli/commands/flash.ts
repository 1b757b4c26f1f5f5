import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Cluster } from '../../config/index.ts';
import { namesNode, readFlashImage, readTarget } from '../../execute/flash-read.ts';
import { imgforgeError } from '../../errors/error.ts';
import { applyFlash, type FlashResult } from '../../execute/flash.ts';
import { describeFlash, planFlash, type FlashPlan } from '../../plan/flash.ts';
import { formatBytes } from '../../util/size.ts';
import type { GlobalOptions } from '../context.ts';
import { barReporter, jsonReporter, quietReporter } from '../flash-progress.ts';
import type { Io } from '../output.ts';

export interface FlashFlags {
  readonly yes: boolean;
  readonly verify: boolean;
  readonly wipe: boolean;
  readonly map?: string;
  readonly out: string;
  readonly cacheDir?: string;
  readonly base?: string;
  readonly allowUnverified: boolean;
}

/** "cp01=/dev/sdb,cp02=/dev/sdc" → pairs; each side must be present and no drive named twice. */
function pairsOf(source: string | undefined, device: string | undefined, map: string | undefined): { source: string; device: string }[] {
  if (map === undefined) {
    if (!source || !device) throw imgforgeError('BadFlag', { detail: 'flash takes an image (or node) and a drive, or --map node=drive,...' });
    return [{ source, device }];
  }
  if (source || device) throw imgforgeError('BadFlag', { detail: '--map names every node and drive; give no image or drive beside it' });
  const pairs = map.split(',').map((item) => {
    const m = /^([^=\s]+)=(\S+)$/.exec(item.trim());
    if (!m) throw imgforgeError('BadFlag', { detail: `--map takes node=drive pairs separated by commas; "${item}" is not one` });
    return { source: m[1]!, device: m[2]! };
  });
  const seen = new Set<string>();
  for (const p of pairs) {
    if (seen.has(p.device)) throw imgforgeError('BadFlag', { detail: `--map names ${p.device} twice` });
    seen.add(p.device);
  }
  return pairs;
}

/** An image file as given, or a node's image in --out, built first when it is not there. */
async function imageFor(source: string, cluster: Cluster | null, opts: GlobalOptions & FlashFlags, io: Io): Promise<string> {
  if (existsSync(source)) return source;
  if (!cluster) throw imgforgeError('ReadFailed', { path: source, detail: `no such image (and no config at ${opts.config} to find a node "${source}" in)` });
  if (!cluster.nodes.some((n) => n.config.hostname === source)) {
    throw imgforgeError('UnknownNode', { node: source, known: cluster.nodes.map((n) => n.config.hostname).join(', ') }, { details: [`${source} is not an image file either`] });
  }
  const image = join(opts.out, `${source}.img`);
  if (existsSync(image)) return image;
  // The build pipeline loads only when a build is needed: flashing an image stays light (start-up time and RSS).
  const [{ findingsError }, { defaultCacheDir }, { buildAll }, { loadAndCheck, planInputs, sourceDateEpoch, VERSION }] = await Promise.all([
    import('../../check/index.ts'), import('../../base/cache.ts'), import('../../execute/build-all.ts'), import('../context.ts')]);
  const { cluster: checked, report } = await loadAndCheck(opts);
  if (!report.ok) throw findingsError(report);
  const [built] = await buildAll(checked, [source], {
    out: opts.out, cacheDir: opts.cacheDir ?? defaultCacheDir(), base: opts.base, allowUnverified: opts.allowUnverified,
    epoch: sourceDateEpoch(), version: VERSION, diskBytes: null, inputs: await planInputs(), say: opts.json ? undefined : io.err, progressBar: false,
  });
  return built!.image;
}

function summary(p: FlashPlan): string {
  const h = p.target.host, c = p.target.contents;
  const what = [h?.model, h?.serial && `serial ${h.serial}`, formatBytes(p.sizeBytes), h && (h.removable ? 'removable' : 'fixed')].filter(Boolean).join(', ');
  const now = c.table === 'none' ? 'no partition table' : `${c.table.toUpperCase()}, ${c.partitions.length} partition(s)`;
  const sigs = c.signatures.map((g) => `${g.type}${g.label ? ` "${g.label}"` : ''} on ${g.where}`).join(', ');
  return [
    `${p.target.path}${p.target.name ? ` (${p.target.name})` : ''}: ${what}`,
    `  holds: ${now}${sigs ? `; ${sigs}` : ''}`,
    `  gets: ${p.image}, ${formatBytes(p.mappedBytes)} mapped; table from ${p.tableFrom}: ${p.partitions.map((x) => `${x.number} ${x.name || x.role} ${formatBytes((x.lastLba - x.firstLba + 1) * 512)}`).join(', ')}`,
    ...p.warnings.map((w) => `  warning: ${w}`),
  ].join('\n') + '\n';
}

/** imgforge flash <image|node> <drive|file>, or --map node=drive,...: read, plan, ask, write. */
export async function flashCommand(source: string | undefined, device: string | undefined, opts: GlobalOptions & FlashFlags, io: Io): Promise<number> {
  const pairs = pairsOf(source, device, opts.map);
  // The config matters for a node name, or for an image whose manifest names its node (the final
  // table comes from that node's layout); any other image is flashed without loading it.
  const needsConfig = pairs.some((p) => !existsSync(p.source) || namesNode(p.source));
  const cluster = needsConfig && existsSync(opts.config) ? await (await import('../../config/index.ts')).loadCluster(opts.config) : null;
  const canAsk = process.stdin.isTTY === true;
  const plans: FlashPlan[] = [];
  for (const pair of pairs) {
    const image = await imageFor(pair.source, cluster, opts, io);
    const t = await readTarget(pair.device, image);
    plans.push(planFlash(readFlashImage(image, cluster), t.target, t.host, t.contents, t.fileBytes, { wipe: opts.wipe, verify: opts.verify, yes: opts.yes, canAsk }));
  }
  const names = plans.map((p) => p.target.name).filter((n) => n !== null);
  if (new Set(names).size !== names.length) throw imgforgeError('BadFlag', { detail: `--map names one drive twice (${names.join(', ')})` });
  if (opts.json) for (const p of plans) io.out(`${JSON.stringify({ event: 'plan', ...(describeFlash(p) as object) })}\n`);
  else for (const p of plans) io.err(summary(p));
  const refusals = plans.flatMap((p) => p.refusals.map((r) => ({ ...r, target: p.target.path })));
  if (refusals.length > 0) {
    const code = refusals.some((r) => r.never) ? 'FlashForbidden' : 'FlashRefused';
    throw imgforgeError(code, { target: plans.map((p) => p.target.path).join(', '), count: refusals.length }, { details: refusals.map((r) => r.message), data: { refusals } });
  }
  if (!opts.yes && plans.some((p) => p.target.kind === 'block')) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const answer = await rl.question(`Everything on ${plans.map((p) => p.target.path).join(', ')} will be lost. Type yes to write: `);
    rl.close();
    if (answer.trim() !== 'yes') { io.err('nothing written\n'); return 1; }
  }
  const reporter = opts.json ? jsonReporter(io) : process.stderr.isTTY ? await barReporter() : quietReporter;
  const abort = new AbortController();
  const onSignal = (): void => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let results: FlashResult[];
  try {
    // Different drives are written at once: each waits on its own device.
    results = await Promise.all(plans.map((p) => applyFlash(p, { signal: abort.signal, onProgress: (phase, d, t) => reporter.progress(p.target.path, phase, d, t) })));
  } catch (e) {
    if (!abort.signal.aborted) throw e;
    io.err(`interrupted: ${plans.map((p) => p.target.path).join(', ')} left without a partition table (the first MiB is zeros)\n`);
    return 130;
  } finally {
    reporter.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  for (const r of results) {
    if (opts.json) io.out(`${JSON.stringify({ event: 'done', ...r })}\n`);
    else io.out(`${r.target}: wrote ${formatBytes(r.writtenBytes)} (${formatBytes(r.mappedBytes)} mapped) in ${r.seconds.toFixed(1)} s${r.verified ? ', read back and verified' : ''}${r.reread ? `; partition table ${r.reread.ok ? `reread (${r.reread.how})` : `not reread: ${r.reread.how}`}` : ''}\n`);
  }
  return 0;
}
