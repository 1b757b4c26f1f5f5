import type { UserConfig } from './schema/index.ts';

/** Typed identity: gives images.config.ts completion and type errors in the editor. */
export const defineConfig = (config: UserConfig): UserConfig => config;
