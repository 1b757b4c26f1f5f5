// Regenerate the committed JSON Schemas from the zod schemas: node scripts/gen-schema.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFieldDocs } from '../src/schema/jsdoc.ts';
import { jsonSchemas } from '../src/schema/json-schema.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
for (const { file, text } of jsonSchemas(readFieldDocs())) {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), text);
  process.stdout.write(`wrote ${file}\n`);
}
