// A node flashed to its drive boots with nothing to repartition (boot suite): `imgforge flash`
// writes the table the node's layout gives for the drive's size, so the first boot's layout stage
// finds every partition in place. It still prepares the reserved partitions (wipe, mkfs: they are
// written pending, as the stage would create them) and grows root's file system into its
// partition. Then the same disk boots again and nothing changes, as `imgforge test` judges.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, closeSync, ftruncateSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, requireTool, ROOT, tempDir } from '../helpers.ts';

const enabled = process.env['CI'] === 'true' || process.env['IMGFORGE_BOOT_TESTS'] === '1';
const CACHE = process.env['IMGFORGE_CACHE_DIR'] ?? join(ROOT, '.cache/imgforge');
const GIB = 2 ** 30;

interface TestResult {
  ok: boolean;
  boots: { name: string; outcome: string; timeline: { t: number; event: string }[] }[];
  verdicts: { boot: string; check: string; ok: boolean; detail: string }[];
}

describe('a flashed drive boots', { skip: !enabled && 'set IMGFORGE_BOOT_TESTS=1 (CI runs them)', concurrency: false }, () => {
  let dir = '', config = '', image = '';
  before(async () => {
    for (const t of ['qemu-system-x86_64', 'qemu-img', 'mmdebstrap', 'grub-mkstandalone', 'sgdisk']) requireTool(t);
    dir = tempDir();
    config = join(dir, 'images.config.mjs');
    writeFileSync(config, `export { default } from ${JSON.stringify(join(ROOT, 'test/fixtures/qemu.config.mjs'))};\n`);
    const r = await cli(['--config', config, 'build', 'vm1', '--out', join(dir, 'out'), '--cache-dir', CACHE, '--json']);
    assert.equal(r.code, 0, r.stderr);
    image = (JSON.parse(r.stdout) as { artifacts: { image: string }[] }).artifacts[0]!.image;
  });

  test('vm1 flashed to a 12 GiB drive: the first boot finds every partition in place and moves none, and every promise of its plan holds', async () => {
    const drive = join(dir, 'drive.img');
    const fd = openSync(drive, 'w');
    ftruncateSync(fd, 12 * GIB);
    closeSync(fd);
    const flash = await cli(['--config', config, 'flash', image, drive, '--json']);
    assert.equal(flash.code, 0, flash.stderr);
    // imgforge test reads the node from the manifest beside the image it boots.
    copyFileSync(image.replace(/\.img$/, '.manifest.json'), join(dir, 'drive.manifest.json'));
    const r = await cli(['--config', config, 'test', drive, '--disk-size', '12GiB', '--json', '--timeout', '900']);
    const result = JSON.parse(r.stdout) as TestResult;
    const failed = result.verdicts.filter((v) => !v.ok);
    assert.deepEqual(failed, [], JSON.stringify(result.boots.map((b) => [b.name, b.outcome, b.timeline.slice(-25)]), null, 1));
    assert.equal(r.code, 0);
    const first = result.boots[0]!.timeline.map((l) => l.event).filter((e) => /^layout /.test(e));
    assert.ok(first.some((e) => /^layout ok/.test(e)), first.join('\n'));
    // What the stage says when it writes the table: none of it after a flash.
    for (const said of [/moved the backup GPT/, /grew root to sector/, /created \w+ \(sectors/]) {
      assert.ok(!first.some((e) => said.test(e)), `first boot after flash: ${said} in\n${first.join('\n')}`);
    }
    assert.ok(first.some((e) => /prepared ceph \(raw\), longhorn \(ext4\)/.test(e)), `the reserved partitions are prepared in place:\n${first.join('\n')}`);
    // The layout the plan gives for 12 GiB, judged from the node's report on both boots.
    for (const check of ['root size', 'partition ceph placement', 'partition longhorn placement', 'backup GPT at the disk end']) {
      assert.deepEqual([...new Set(result.verdicts.filter((v) => v.check === check).map((v) => v.ok))], [true], check);
    }
  });
});
