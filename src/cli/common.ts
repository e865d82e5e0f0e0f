import { ConfigError, EX_CONFIG } from '../config/errors.js';
import { loadConfigFile, resolveConfigPath, type LoadOptions } from '../config/load.js';
import type { LoadedConfig } from '../config/types.js';
import { configuredVocabulary } from '../models/vocabulary.js';

/** How the CLI loads every config: with the label lists of the configured models, so names are checked. */
export const CLI_LOAD_OPTIONS: LoadOptions = { vocabulary: configuredVocabulary };

/** Load --config / EDGESIGHT_CONFIG (or defaults), printing every problem and exiting 78 on a bad file. */
export function loadConfigOrExit(cliPath: string | undefined): LoadedConfig {
  try {
    return loadConfigFile(resolveConfigPath(cliPath), CLI_LOAD_OPTIONS);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.format()}\n${e.message}; see docs/configuration.md (or edgesight check-config --reference)\n`);
      process.exit(EX_CONFIG);
    }
    throw e;
  }
}
