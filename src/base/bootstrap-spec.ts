import { createHash } from 'node:crypto';
import type { TemplateSet } from '../render/templates.ts';

/** What a base built from packages is made of; its digest keys the cache. */
export interface BootstrapSpec {
  readonly suite: string;
  readonly mirror: string;
  readonly arch: 'amd64' | 'arm64';
  readonly packages: readonly string[];
  /** Firmware the image must boot from: UEFI always; legacy BIOS adds GRUB's i386-pc chain (amd64, grub-pc-bin). */
  readonly bios: boolean;
  /** The root file system's size when it should exceed what its contents need. */
  readonly rootBytes?: number | undefined;
  /** Only these modules in the initramfs (MODULES=list); undefined: MODULES=most. */
  readonly initramfsModules?: readonly string[] | undefined;
}

/** Bump when the recipe in bootstrap.ts changes, so cached bases built the old way are not reused. */
const RECIPE = 3;

/** What keys a bootstrapped base in the cache: the spec and the recipe's templates. */
export function bootstrapDigest(spec: BootstrapSpec, templates: TemplateSet): string {
  const h = createHash('sha256').update(JSON.stringify({ RECIPE, ...spec, packages: [...spec.packages].sort() }));
  for (const name of ['bootstrap/setup.sh.njk', 'bootstrap/customize.sh.njk', 'bootstrap/grub.cfg.njk']) h.update(templates.get(name) ?? '');
  return h.digest('hex');
}
