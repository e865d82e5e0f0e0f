import type { LoadedConfig } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import { isManifestPath, loadModel, manifestPathFor, prepareModel, type LoadedModel, type PrepareContext } from '../models/store.js';
import { fetchContext } from '../service/configured-models.js';

export type BenchPrecision = 'fp32' | 'int8';
export type ModelRole = 'detector' | 'segmenter';

/**
 * Makes the int8 variant of a catalogued model in the cache (`<cache>/<name>/int8.json`). The CLI
 * passes one when the quantizer is part of the build; the bench never imports it itself, so the
 * benchmark works (reporting int8 as unavailable) while the quantizer is absent.
 */
export type Int8Preparer = (name: string, cacheDir: string) => Promise<void>;

export interface ModelAvailability {
  available: boolean;
  /** why not, when unavailable */
  reason: string | null;
  model: LoadedModel | null;
}

export type ModelTable = Record<ModelRole, Record<BenchPrecision, ModelAvailability>>;

const missing = (reason: string): ModelAvailability => ({ available: false, reason, model: null });

/**
 * Each configured model at each requested precision, never silently substituted: an fp32 model is
 * prepared as the daemon would (fetch/convert); an int8 model is taken from the cache, else made
 * with `prepareInt8` when given, else reported unavailable with the reason.
 */
export async function resolveBenchModels(
  lc: LoadedConfig,
  precisions: BenchPrecision[],
  log: Logger,
  prepareInt8?: Int8Preparer | { unavailable: string },
): Promise<ModelTable> {
  const ctx = fetchContext(lc, log);
  const refs: Record<ModelRole, string | null> = { detector: lc.config.models.detector, segmenter: lc.config.models.segmenter };
  const table = { detector: {}, segmenter: {} } as ModelTable;
  for (const role of ['detector', 'segmenter'] as const) {
    const ref = refs[role];
    for (const p of ['fp32', 'int8'] as const) {
      if (!precisions.includes(p)) table[role][p] = missing(`not requested (--precision ${precisions.join(',')})`);
      else if (!ref) table[role][p] = missing(`models.${role} is null in the config`);
      else table[role][p] = await one(ref, role, p, lc, ctx, prepareInt8);
    }
  }
  return table;
}

async function one(
  ref: string,
  role: ModelRole,
  p: BenchPrecision,
  lc: LoadedConfig,
  ctx: PrepareContext,
  prepareInt8?: Int8Preparer | { unavailable: string },
): Promise<ModelAvailability> {
  const task = role === 'detector' ? 'detection' : 'segmentation';
  // a manifest path names one file of one precision: it is the fp32 entry, int8 needs a catalogued name
  if (isManifestPath(ref)) {
    if (p === 'int8') return missing(`models.${role} is a manifest path (${ref}); int8 comparison needs a catalogued model name`);
    try {
      return { available: true, reason: null, model: await loadModel(manifestPathFor(ref, p, ctx.cacheDir, lc.dir), task) };
    } catch (e) {
      return missing((e as Error).message);
    }
  }
  const mpath = manifestPathFor(ref, p, ctx.cacheDir, lc.dir);
  try {
    return { available: true, reason: null, model: await loadModel(mpath, task) };
  } catch (first) {
    if (p === 'fp32') {
      try {
        return { available: true, reason: null, model: await loadModel(await prepareModel(ref, 'fp32', ctx), task) };
      } catch (e) {
        return missing(`${(e as Error).message}`);
      }
    }
    if (!prepareInt8 || 'unavailable' in prepareInt8) {
      return missing(
        `no ${mpath} (${(first as Error).message.replace(/^.*?: /, '')}) and ${prepareInt8 && 'unavailable' in prepareInt8 ? prepareInt8.unavailable : 'no quantizer given'}`,
      );
    }
    try {
      ctx.log(`bench: ${ref} has no int8 variant in ${ctx.cacheDir}: quantizing it once (cached for later runs)`);
      await prepareInt8(ref, ctx.cacheDir);
      return { available: true, reason: null, model: await loadModel(mpath, task) };
    } catch (e) {
      return missing(`the quantizer could not make ${mpath}: ${(e as Error).message}`);
    }
  }
}
