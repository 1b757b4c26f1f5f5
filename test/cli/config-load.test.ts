// Why a config could not be loaded, each with a hint that fits: a missing imgforge package, a
// config that throws, and (only) unparsable TypeScript gets the hint about erasable syntax.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempDir } from '../helpers.ts';

const ERASABLE = /erasable syntax/;

test('a config outside any project that imports imgforge: says so and how to fix it, not the erasable-syntax hint', async () => {
  const file = join(tempDir('imgforge-lonely-'), 'images.config.ts');
  writeFileSync(file, "import { defineConfig } from 'imgforge';\nexport default defineConfig({});\n");
  const r = await cli(['--config', file, 'check']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`${file.replaceAll('/', '\\/').replaceAll('.', '\\.')} imports "imgforge", but no imgforge package is installed in its folder or above it\\.`));
  assert.match(r.stderr, /npm i -D imgforge/);
  assert.doesNotMatch(r.stderr, ERASABLE);
});

test('a config that throws while it loads is reported as such, with no erasable-syntax hint', async () => {
  const file = join(tempDir('imgforge-throws-'), 'images.config.mjs');
  writeFileSync(file, "throw new Error('boom at load');\n");
  const r = await cli(['--config', file, 'check']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /threw while it ran: boom at load/);
  assert.doesNotMatch(r.stderr, ERASABLE);
});

test('TypeScript Node cannot strip still gets the erasable-syntax hint', async () => {
  const file = join(tempDir('imgforge-enum-'), 'images.config.ts');
  writeFileSync(file, 'enum Role { A }\nexport default { role: Role.A };\n');
  const r = await cli(['--config', file, 'check']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, ERASABLE);
});
