import { ImagesConfig, type ResolvedConfig } from './schema/index.ts';
import { imgforgeError } from '../errors/error.ts';
import { formatIssues } from '../errors/zod.ts';
import type { RawConfig } from './load.ts';

/**
 * Validate a loaded config's shape once, at the boundary; past here code trusts the types.
 * Every problem is reported at once, each naming its field.
 */
export function validateConfig(raw: RawConfig): ResolvedConfig {
  const result = ImagesConfig.safeParse(raw.value, { reportInput: true });
  if (result.success) return result.data;
  const details = formatIssues(result.error.issues);
  throw imgforgeError('ConfigInvalid', { path: raw.path, count: details.length }, { details });
}
