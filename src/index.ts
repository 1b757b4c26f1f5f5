/** The public API: what images.config.ts and other programs import from "imgforge". */
export { defineConfig } from './config/define.ts';
export type { UserConfig, ResolvedConfig } from './config/schema/index.ts';
export type { ProfileInput as BoardProfile } from './profiles/schema.ts';
