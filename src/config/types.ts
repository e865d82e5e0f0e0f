import type { Config } from './config.generated.js';

/**
 * The validated configuration, defaults merged. Keys mirror the YAML (snake_case). Generated from the
 * schema (config.generated.ts, `npm run gen:types`), so the two cannot disagree.
 */
export type { Config };

/** A loaded config plus where it came from (relative paths in it resolve against `dir`). */
export interface LoadedConfig {
  config: Config;
  file: string | null;
  dir: string;
}
