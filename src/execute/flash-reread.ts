/**
 * After a flash the kernel must see the new table, or the node's first boot and any tool run now
 * see the old partitions. BLKRRPART first, retried while udev still holds the drive (as
 * coreos-installer does, 20 × 100 ms); then BLKPG through partx, which also works on kernels
 * without partition parsers. Each attempt is judged by the kernel's partitions in sysfs.
 */
import { kernelPartitions } from '../drive/facts.ts';
import type { FlashPlan } from '../plan/flash.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function rereadTable(plan: FlashPlan): Promise<{ readonly ok: boolean; readonly how: string }> {
  const name = plan.target.name!;
  const want = plan.partitions.map((p) => `${p.number}:${p.firstLba}:${p.lastLba - p.firstLba + 1}`).sort().join(' ');
  const seen = (): boolean => kernelPartitions(name).map((p) => `${p.number}:${p.start}:${p.sectors}`).sort().join(' ') === want;
  const tried: string[] = [];
  // Loaded only for a block device: a flash to a file need not wait for the tool runner's library.
  const { blockdevRereadpt, partx } = await import('../tools/blockdev.ts');
  for (let i = 0; i < 20; i++) {
    try {
      await blockdevRereadpt(plan.target.path);
      if (seen()) return { ok: true, how: 'blockdev --rereadpt' };
      break;
    } catch (e) {
      if (!/busy/i.test((e as Error).message)) { tried.push((e as Error).message); break; }
      await sleep(100);
    }
  }
  // Nothing on the drive is in use (checked before writing), so its old partitions can all go.
  for (const mode of ['-u', '-d', '-a'] as const) {
    try { await partx(mode, plan.target.path); } catch (e) { tried.push((e as Error).message); }
    if (mode !== '-d' && seen()) return { ok: true, how: mode === '-u' ? 'partx -u' : 'partx -d, -a' };
  }
  return { ok: false, how: tried.join('; ') || 'the kernel does not show the partitions written' };
}
