import { ConfigError, EX_CONFIG } from '../config/errors.js';
import { loadConfigFile, resolveConfigPath } from '../config/load.js';
import type { LoadedConfig } from '../config/types.js';

/** Load --config / EDGESIGHT_CONFIG (or defaults), printing every problem and exiting 78 on a bad file. */
export function loadConfigOrExit(cliPath: string | undefined): LoadedConfig {
  try {
    return loadConfigFile(resolveConfigPath(cliPath));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.format()}\n${e.message}; see the README's configuration reference\n`);
      process.exit(EX_CONFIG);
    }
    throw e;
  }
}
