import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse } from './args.js';
import { MODELS_BUILD_PREPARED } from './commands.js';
import { say } from './models-common.js';

export async function buildPreparedSub(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, MODELS_BUILD_PREPARED.options);
  const { buildPrepared } = await import('../modeltools/quantize/build-prepared.js');
  const t0 = performance.now();
  try {
    const built = await buildPrepared({
      ...(values.out ? { outDir: path.resolve(values.out) } : {}),
      ...(positionals.length ? { names: positionals } : {}),
      log: say,
    });
    for (const b of built) process.stdout.write(`${b.file}\t${b.bytes} bytes\tsha256 ${b.sha256}\n`);
    say(`built ${built.length} prepared models in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return 0;
  } catch (e) {
    say(`build-prepared: ${(e as Error).message}`);
    return 1;
  }
}
