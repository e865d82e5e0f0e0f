import { ConfigError, EX_CONFIG } from '../config/errors.js';
import { loadConfigFile, resolveConfigPath } from '../config/load.js';
import { redactConfig } from '../config/redact.js';
import { CHECK_CONFIG } from './commands.js';
import { parse } from './args.js';
import { CLI_LOAD_OPTIONS } from './common.js';
import { renderConfigReference } from '../config/reference.js';

export async function checkConfigCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, CHECK_CONFIG.options, false);
  if (values.reference) {
    process.stdout.write(renderConfigReference() + '\n');
    return 0;
  }
  const file = resolveConfigPath(values.config);
  try {
    const lc = loadConfigFile(file, CLI_LOAD_OPTIONS);
    process.stdout.write(`${file ?? '(defaults and environment)'}: OK\n`);
    if (values.print) process.stdout.write(JSON.stringify(redactConfig(lc.config), null, 2) + '\n');
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(e.format() + '\n');
    process.stderr.write(`${e.message}\n`);
    return EX_CONFIG;
  }
}
