// A reader that stops early (`imgforge plan | head`) is not an error: no stack trace, exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers.ts';

test('plan piped into head -c 1: the rest is dropped quietly and imgforge exits 0', () => {
  const r = spawnSync('bash', ['-c', 'set -o pipefail; "$0" "$1" plan | head -c 1 >/dev/null', process.execPath, join(ROOT, 'bin/imgforge.js')], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
});
