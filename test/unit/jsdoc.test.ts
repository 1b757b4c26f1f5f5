import { test } from 'node:test';
import assert from 'node:assert/strict';
import { docsFor, fieldDocs } from '../../src/schema/jsdoc.ts';

test('field docs: each literal\'s keys to their JSDoc; braces in regexes and strings do not confuse it; @default becomes a sentence', () => {
  const docs = fieldDocs(`
export const A = z.strictObject({
  /** The name, e.g. "a{b}". */
  name: z.string().regex(/^[a-z]{1,3}$/, 'at most {3} letters'),
  /**
   * Nested, on
   * two lines. @default {}
   */
  inner: z.strictObject({
    /** Deep. */
    deep: z.number(),
  }).prefault({}),
});
const B = z.strictObject({
  /** B's name. */
  name: z.string(),
  /** B's inner. */
  inner: z.string(),
});
`);
  // A and B have the same keys, documented differently: found only by their names.
  assert.equal(docsFor(docs, ['inner', 'name']), undefined);
  assert.deepEqual([...docsFor(docs, ['name', 'inner'], 'A')!], [['name', 'The name, e.g. "a{b}".'], ['inner', 'Nested, on two lines. Default: {}.']]);
  assert.equal(docsFor(docs, ['name', 'inner'], 'B')!.get('name'), 'B\'s name.');
  assert.deepEqual([...docsFor(docs, ['deep'])!], [['deep', 'Deep.']]);
  assert.deepEqual([...docsFor(docs, ['deep'], 'inner')!], [['deep', 'Deep.']]);
});
