import { performance } from 'node:perf_hooks';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CATALOG, catalogEntry } from '../models/catalog.js';
import { obtainSource } from '../models/fetch.js';
import { convertTflite } from '../modeltools/convert.js';
import { ModelError, readManifest, type Precision } from '../models/manifest.js';
import { isManifestPath, prepareModel } from '../models/store.js';
import { MODELS_CONVERT, MODELS_FETCH, MODELS_PREPARE } from './commands.js';
import { parse, UsageError } from './args.js';
import { loadQuantizer } from './quantizer-loader.js';
import { modelsContext, say, short, type CommonValues } from './models-common.js';
import { importOptionsFrom, reportImport } from './models-move.js';

const PRECISIONS = ['fp32', 'qdq-faithful', 'int8'] as const;

function checkMirrors(dirs: string[] | undefined): void {
  for (const d of dirs ?? []) {
    if (!existsSync(d) || !statSync(d).isDirectory()) throw new UsageError(`--from ${d}: no such folder`);
  }
}

async function announce(manifestPath: string): Promise<void> {
  const m = await readManifest(manifestPath);
  process.stdout.write(`ready  ${m.name.padEnd(34)} ${m.precision.padEnd(12)} ${short(m.sha256)}  ${manifestPath}\n`);
}

export async function fetchSub(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, MODELS_FETCH.options);
  const precision = (values.precision ?? 'fp32') as (typeof PRECISIONS)[number];
  if (!PRECISIONS.includes(precision)) throw new UsageError(`--precision must be one of ${PRECISIONS.join(', ')}, got ${values.precision}`);
  if (values.all && positionals.length) throw new UsageError('give model names or --all, not both');
  checkMirrors(values.from);
  const { lc, ctx } = modelsContext(values as CommonValues);
  for (const n of positionals)
    if (!catalogEntry(n))
      throw new UsageError(
        `unknown model '${n}' (catalogued: ${CATALOG.map((e) => e.name).join(', ')}); use \`edgesight models import\` for your own`,
      );

  let names: string[];
  const explicit = positionals.length > 0;
  if (values.all) names = CATALOG.map((e) => e.name);
  else if (explicit) names = positionals;
  else {
    names = [];
    for (const ref of [lc.config.models.detector, lc.config.models.segmenter]) {
      if (!ref) continue;
      if (isManifestPath(ref)) say(`${ref}: configured as a manifest path, nothing to fetch`);
      else if (!catalogEntry(ref)) say(`${ref}: configured but not catalogued; register it with \`edgesight models import\``);
      else names.push(ref);
    }
    if (!names.length) throw new UsageError('no catalogued models configured; name them or use --all');
  }
  say(`model cache: ${ctx.cacheDir}`);
  let failed = 0;
  for (const name of names) {
    const entry = catalogEntry(name)!;
    try {
      await announce(await prepareModel(name, 'fp32', ctx));
      if (precision === 'qdq-faithful') {
        if (entry.fp32From !== 'tflite-float') {
          // only a TFLite source carries int8 parameters to be faithful to
          if (explicit) throw new ModelError(`${name} has no faithful QDQ form: its source is a float ONNX (use --precision int8 to quantize it)`);
          say(`${name}: no faithful QDQ form (float ONNX source); skipped`);
        } else await announce(await prepareModel(name, 'qdq-faithful', ctx));
      }
      if (precision === 'int8') {
        const q = await loadQuantizer();
        const code = await q.quantizeCommand([name, '--cache', ctx.cacheDir, ...(values.config ? ['--config', values.config] : [])]);
        if (code !== 0) throw new ModelError(`${name}: the quantizer exited with status ${code}`);
      }
    } catch (e) {
      failed++;
      say(`${name}: ${(e as Error).message}`);
    }
  }
  return failed ? 1 : 0;
}

export async function convertSub(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, MODELS_CONVERT.options);
  const form = values.form ?? 'float';
  if (form !== 'float' && form !== 'qdq') throw new UsageError(`--form must be float or qdq, got ${form}`);
  const keepScoreCap = values['keep-score-cap'] ?? false;
  if (keepScoreCap && form !== 'float')
    throw new UsageError('--keep-score-cap applies to the float form only (the qdq form keeps every source range anyway)');
  if (positionals.length !== 1) throw new UsageError('convert needs exactly one NAME or TFLite FILE');
  const ref = positionals[0]!;
  checkMirrors(values.from);
  const { ctx } = modelsContext(values as CommonValues);

  const isFile = existsSync(ref) && statSync(ref).isFile();
  let source = ref;
  if (!isFile) {
    const entry = catalogEntry(ref);
    if (!entry) throw new UsageError(`'${ref}' is neither a file nor a catalogued model (${CATALOG.map((e) => e.name).join(', ')})`);
    if (values.name)
      throw new UsageError('--name applies when converting a TFLite file; a catalogued model is converted into the cache (or to --out)');
    if (keepScoreCap && !values.out)
      throw new UsageError('--keep-score-cap with a catalogued model needs --out FILE.onnx: the cache holds the default (uncapped) graph');
  }
  if (!isFile && values.out) {
    // a catalogued model's source converted to a bare file, e.g. the capped graph for comparison
    const entry = catalogEntry(ref)!;
    if (entry.fp32From !== 'tflite-float') throw new UsageError(`${ref} is not converted from TFLite`);
    source = await obtainSource(entry.source, ctx);
  } else if (!isFile) {
    const precision: Precision = form === 'qdq' ? 'qdq-faithful' : 'fp32';
    if (values.force) await rm(path.join(ctx.cacheDir, ref, `${precision}.json`), { force: true });
    await announce(await prepareModel(ref, precision, ctx));
    return 0;
  }

  let onnx: Buffer;
  try {
    onnx = convertTflite(await readFile(source), { form, keepScoreCap });
  } catch (e) {
    throw new ModelError(`cannot convert ${ref}: ${(e as Error).message}`);
  }
  if (values.out) {
    if (values.name || values.like || values.manifest)
      throw new UsageError('--out writes a bare ONNX file; to register it in the cache use --name with --like/--manifest instead');
    await mkdir(path.dirname(path.resolve(values.out)), { recursive: true });
    await writeFile(values.out + '.part', onnx);
    await rename(values.out + '.part', values.out);
    process.stdout.write(
      `wrote ${values.out} (${form}${keepScoreCap ? ', class-logit saturations kept' : ''}, ${onnx.length} bytes); register it with \`edgesight models import ${values.out} --name N --like …\`\n`,
    );
    return 0;
  }
  if (!values.name) throw new UsageError('converting a TFLite file needs --out FILE.onnx, or --name N with --like/--manifest to register it');
  const tmp = path.join(os.tmpdir(), `edgesight-convert-${process.pid}.onnx`);
  await writeFile(tmp, onnx);
  try {
    const opts = importOptionsFrom(values, tmp, ctx.cacheDir);
    if (form === 'qdq' && !values.precision) opts.precision = 'qdq-faithful';
    const res = await (await import('../modeltools/model-import.js')).importModel(opts);
    reportImport(res);
  } finally {
    await rm(tmp, { force: true });
  }
  return 0;
}

/**
 * `edgesight models prepare`: makes the configured detector and segmenter ready exactly as the daemon's
 * start would (shipped int8 models used as they are; anything else prepared into the cache, int8 in a
 * quantizer child process) and says how long it took. `service install` runs it as the service user.
 */
export async function prepareSub(argv: string[]): Promise<number> {
  const { values } = parse(argv, MODELS_PREPARE.options, false);
  const { loadConfigOrExit } = await import('./common.js');
  const { createLogger } = await import('../logging/logger.js');
  const { loadConfiguredModels } = await import('../service/configured-models.js');
  const lc = loadConfigOrExit(values.config);
  const log = createLogger(lc.config.logging.level, lc.config.logging.pretty, 2);
  const t0 = performance.now();
  const { detector, segmenter } = await loadConfiguredModels(lc, log);
  for (const m of [detector, segmenter]) if (m) await announce(m.manifestPath);
  if (!segmenter && lc.config.models.segmenter && lc.config.segmentation.every > 0)
    say('no segmenter could be prepared (see the warning above): the daemon will run detection only');
  say(`models ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}
