import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { EX_USAGE, parse } from './args.js';
import { say } from './models-common.js';

export const BUILD_PREPARED_HELP = `edgesight models build-prepared [NAME...] [--out DIR]

Re-makes the int8 models shipped in models/prepared/ from models/sources/ (no mirror, no network):
each catalogued model (or the NAMEs given) converted to fp32, then quantized with the default settings
(its profile, the shipped calibration set) for uint8 activations (x86-64, Cortex-A72) and int8 activations
(arm64 with the dot-product extension). Deterministic: an unchanged converter and quantizer rewrite the
same bytes. This is what \`npm run models:build\` runs.

  --out DIR   write there instead of the package's models/prepared/
`;

const OPTIONS = { out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

export async function buildPreparedSub(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parse<typeof OPTIONS>>['values'];
  let positionals: string[];
  try {
    ({ values, positionals } = parse(argv, OPTIONS));
  } catch (e) {
    say(`${(e as Error).message}\n\n${BUILD_PREPARED_HELP}`);
    return EX_USAGE;
  }
  if (values.help) {
    process.stdout.write(BUILD_PREPARED_HELP);
    return 0;
  }
  const { buildPrepared } = await import('../models/quantize/build-prepared.js');
  const t0 = performance.now();
  try {
    const built = await buildPrepared({ ...(values.out ? { outDir: path.resolve(values.out) } : {}), ...(positionals.length ? { names: positionals } : {}), log: say });
    for (const b of built) process.stdout.write(`${b.file}\t${b.bytes} bytes\tsha256 ${b.sha256}\n`);
    say(`built ${built.length} prepared models in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  } catch (e) {
    say(`build-prepared: ${(e as Error).message}`);
    return 1;
  }
}
