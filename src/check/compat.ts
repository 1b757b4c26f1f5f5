import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { imgforgeError } from '../errors/error.ts';
import { formatIssues } from '../errors/zod.ts';

const Range = z.object({ min: z.string(), max: z.string() });
const Confidence = z.enum(['confirmed', 'unconfirmed']);

/** The parts of data/compatibility.yaml the checks use; every entry there cites its source. */
const CompatibilitySchema = z.object({
  kubernetes: z.array(z.object({ minor: z.string(), released: z.string(), endOfLife: z.string(), source: z.string() })),
  runtimes: z.object({
    containerd: z.array(z.object({ line: z.string(), kubernetes: Range, source: z.string(), confidence: Confidence })),
    'cri-o': z.object({ source: z.string() }),
    docker: z.object({ removedIn: z.string(), adapter: z.string(), source: z.string() }),
  }),
  cni: z.object({
    cilium: z.array(z.object({ minor: z.string(), kubernetes: Range, source: z.string(), confidence: Confidence })),
    calico: z.array(z.object({ minor: z.string(), kubernetes: Range, source: z.string(), confidence: Confidence })),
  }),
  kernels: z.object({
    cilium: z.array(z.object({ minor: z.string(), minKernel: z.string(), source: z.string(), confidence: Confidence })),
    kubeletRefusesCgroupV1From: z.string(),
    kubeletSource: z.string(),
  }),
});

export type Compatibility = z.output<typeof CompatibilitySchema>;

export const COMPAT_FILE = fileURLToPath(new URL('../../data/compatibility.yaml', import.meta.url));

export async function loadCompatibility(file = COMPAT_FILE): Promise<Compatibility> {
  const result = CompatibilitySchema.safeParse(parseYaml(await readFile(file, 'utf8')));
  if (result.success) return result.data;
  throw imgforgeError('ReadFailed', { path: file, detail: formatIssues(result.error.issues).join('; ') });
}

/** "1.35.3" -> "1.35" */
export const minorOf = (version: string): string => version.replace(/^v/, '').split('.').slice(0, 2).join('.');

/** Compare two MAJOR.MINOR strings numerically. */
export function compareMinor(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number), [bm, bn] = b.split('.').map(Number);
  return am! - bm! || an! - bn!;
}

export const inMinorRange = (v: string, r: { min: string; max: string }): boolean =>
  compareMinor(v, r.min) >= 0 && compareMinor(v, r.max) <= 0;
