import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { createEnvironment, renderTemplate, shquote, yamlBlock, yamlInline } from '../../src/render/environment.ts';

test('shquote survives every character a shell treats specially', () => {
  for (const s of ["it's", '$(reboot)', '`id`', 'a b\nc', '"\\', '']) {
    const r = spawnSync('sh', ['-c', `printf %s ${shquote(s)}`], { encoding: 'utf8' });
    assert.equal(r.stdout, s);
  }
});

test('yaml filters read back exactly', () => {
  const texts = ['#!/bin/sh\nset -eu\n', 'no newline', 'two\n\n', '  leading spaces\n', 'tab\tinside\n', 'trailing space \n', 'a: b\n- c\n', '\ttab first\n', 'ünïcödé\n'];
  for (const t of texts) {
    const doc = parseYaml(`key: ${yamlBlock(t, 2)}\n`) as { key: string };
    assert.equal(doc.key, t, JSON.stringify(t));
    assert.equal((parseYaml(`k: ${yamlInline(t)}`) as { k: string }).k, t);
  }
  assert.match(yamlBlock('#!/bin/sh\necho hi\n', 6), /^\|\n {6}#!\/bin\/sh\n {6}echo hi$/);
});

test('templates: an undefined variable is an error, not an empty string', () => {
  const env = createEnvironment(new Map([['t.njk', 'host={{ node.hostname }}']]));
  assert.equal(renderTemplate(env, 't.njk', { node: { hostname: 'cp01' } }), 'host=cp01');
  assert.throws(() => renderTemplate(env, 't.njk', { node: {} }), (e: Error & { code?: string }) => e.code === 'TemplateFailed' && /t\.njk/.test(e.message));
  assert.throws(() => renderTemplate(env, 'missing.njk', {}), /missing\.njk/);
});
