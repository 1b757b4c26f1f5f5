import { z } from 'zod';
import { ImagesConfig } from '../config/schema/index.ts';
import * as addons from '../config/schema/addons.ts';
import * as cluster from '../config/schema/cluster.ts';
import * as layout from '../config/schema/layout.ts';
import * as network from '../config/schema/network.ts';
import * as node from '../config/schema/node.ts';
import * as profiles from '../profiles/schema.ts';
import { Profile } from '../profiles/schema.ts';
import { docsFor, type FieldDocs } from './jsdoc.ts';

/**
 * JSON Schemas generated from the zod schemas, so editors complete and check profile YAML and
 * JSON/YAML configs. `io: "input"` describes what users write (defaults optional).
 */
export function jsonSchemas(docs: FieldDocs = new Map()): { readonly file: string; readonly text: string }[] {
  // Each object's fields get the JSDoc its source literal gives them (src/schema/jsdoc.ts).
  type Json = Record<string, unknown>;
  const describe = (json: Json, found: ReadonlyMap<string, string> | undefined): void => {
    const props = json['properties'] as Record<string, Json> | undefined;
    for (const [k, d] of found ?? []) if (props?.[k] && props[k]['description'] === undefined) props[k]['description'] = d;
  };
  /** The object schema a field's JSON Schema is, through optional/default/nullable wrappers. */
  const objectOf = (json: Json | undefined): Json | undefined =>
    !json ? undefined : json['properties'] ? json : objectOf(((json['anyOf'] ?? json['oneOf']) as Json[] | undefined)?.find((j) => j['properties']));
  // An exported schema is known by its name too (Layout and LayoutPatch share their keys).
  const names = new Map<unknown, string>();
  for (const m of [addons, cluster, layout, network, node, profiles]) for (const [name, v] of Object.entries(m)) if (v instanceof z.ZodType) names.set(v, name);
  const override = (ctx: { zodSchema: unknown; jsonSchema: Json }): void => {
    const def = (ctx.zodSchema as { _zod?: { def?: { type?: string; shape?: Record<string, unknown> } } })._zod?.def;
    if (def?.type !== 'object' || !def.shape) return;
    describe(ctx.jsonSchema, docsFor(docs, Object.keys(def.shape), names.get(ctx.zodSchema)));
    // A field whose value is an object literal: its fields, found by the field's name.
    for (const [k, child] of Object.entries((ctx.jsonSchema['properties'] ?? {}) as Record<string, Json>)) {
      const obj = objectOf(child);
      if (obj) describe(obj, docsFor(docs, Object.keys(obj['properties'] as Json), k));
    }
  };
  const gen = (schema: z.ZodType, id: string): string =>
    `${JSON.stringify({ ...z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12', override }), title: id }, null, 2)}\n`;
  return [
    { file: 'profiles/profile.schema.json', text: gen(Profile, 'imgforge board profile') },
    { file: 'schema/images.config.schema.json', text: gen(ImagesConfig, 'imgforge cluster config') },
  ];
}
