/**
 * The one merge rule imgforge uses, for profile `extends` and for node overrides:
 * plain objects merge key by key (recursively), everything else (arrays, scalars) replaces.
 * `undefined` in the patch leaves the base value; there is no way to delete a key, by design.
 */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

export function deepMerge(base: unknown, patch: unknown): unknown {
  if (patch === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) out[key] = deepMerge(base[key], value);
  return out;
}
