import { z } from 'zod';
import { ImagesConfig } from '../config/schema/index.ts';
import { Profile } from '../profiles/schema.ts';

/**
 * JSON Schemas generated from the zod schemas, so editors complete and check profile YAML and
 * JSON/YAML configs. `io: "input"` describes what users write (defaults optional).
 */
export function jsonSchemas(): { readonly file: string; readonly text: string }[] {
  const gen = (schema: z.ZodType, id: string): string =>
    `${JSON.stringify({ ...z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }), title: id }, null, 2)}\n`;
  return [
    { file: 'profiles/profile.schema.json', text: gen(Profile, 'imgforge board profile') },
    { file: 'schema/images.config.schema.json', text: gen(ImagesConfig, 'imgforge cluster config') },
  ];
}
