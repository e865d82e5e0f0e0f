import path from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { LoadedConfig } from '../config/types.js';
import { mirrorsFromEnv, type FetchContext } from '../models/fetch.js';
import { resolveCacheDir } from '../models/paths.js';
import { catalogEntry } from '../models/catalog.js';
import { isManifestPath, loadModel, manifestPathFor, prepareModel, staleReason, type LoadedModel, type Quantizer } from '../models/store.js';
import { ModelError } from '../models/manifest.js';

export function fetchContext(lc: LoadedConfig, log: Logger, env: NodeJS.ProcessEnv = process.env): FetchContext {
  const cfg = lc.config.models;
  return {
    cacheDir: resolveCacheDir(cfg.cache_dir, env, lc.dir),
    mirrors: [...mirrorsFromEnv(env), ...cfg.mirror.map((m) => path.resolve(lc.dir, m))],
    allowNetwork: env.EDGESIGHT_OFFLINE !== '1',
    log: (msg, extra) => log.info({ ...extra }, msg),
  };
}

async function one(ref: string, task: 'detection' | 'segmentation', lc: LoadedConfig, ctx: FetchContext, log: Logger, quantize?: Quantizer): Promise<LoadedModel> {
  const precision = lc.config.models.precision;
  const mpath = manifestPathFor(ref, precision, ctx.cacheDir, lc.dir);
  let loaded: LoadedModel;
  try {
    loaded = await loadModel(mpath, task);
  } catch (e) {
    if (isManifestPath(ref) || !lc.config.models.auto_prepare) throw e;
    log.info({ model: ref, precision, cache: ctx.cacheDir }, `model ${ref} (${precision}) is not prepared yet: preparing it`);
    return loadModel(await prepareModel(ref, precision, ctx, quantize), task);
  }
  // a catalogued model prepared by an older edgesight (e.g. with capped scores) is made again
  const entry = isManifestPath(ref) ? undefined : catalogEntry(ref);
  const stale = entry ? staleReason(entry, loaded.manifest) : null;
  if (!stale) return loaded;
  if (!lc.config.models.auto_prepare) {
    log.warn({ model: ref, precision, reason: stale }, `model ${ref} (${precision}) is out of date; using it because models.auto_prepare is off (run \`edgesight models fetch\` to remake it)`);
    return loaded;
  }
  log.info({ model: ref, precision, reason: stale }, `model ${ref} (${precision}) is out of date: preparing it again`);
  return loadModel(await prepareModel(ref, precision, ctx, quantize), task);
}

/**
 * The quantizer for int8 auto-prepare, made from the config: `models.calibration` (relative to the config
 * file; empty = the shipped set) plus `models.calibration_frames` frames from the configured camera.
 * Loaded lazily: the quantizer is a separate part of the build, needed only when an int8 model is missing.
 */
export async function configuredQuantizer(lc: LoadedConfig): Promise<Quantizer> {
  let mod: typeof import('../models/quantize/model.js');
  try {
    mod = (await import('../models/quantize/model.js' as string)) as typeof import('../models/quantize/model.js');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new ModelError('the int8 quantizer is not part of this build (dist/src/models/quantize/ is missing): set models.precision: fp32, or prepare int8 models elsewhere');
    }
    throw e;
  }
  const m = lc.config.models;
  const frames = m.calibration_frames;
  return mod.makeQuantizer({
    calibration: m.calibration.map((c) => path.resolve(lc.dir, c)),
    ...(frames > 0 ? { cameraFrames: async (dir: string) => (await import('../models/quantize/camera.js')).grabCameraFrames(lc.config.camera, frames, dir) } : {}),
  });
}

/**
 * The configured detector (required: failure stops the daemon) and segmenter (optional: when it cannot
 * be had, the daemon runs detection only and says so once, with how to add one).
 */
export async function loadConfiguredModels(lc: LoadedConfig, log: Logger, quantize?: Quantizer): Promise<{ detector: LoadedModel; segmenter: LoadedModel | null }> {
  const ctx = fetchContext(lc, log);
  // made on first need, shared by both models
  let q: Promise<Quantizer> | undefined;
  quantize ??= async (fp32, c) => (await (q ??= configuredQuantizer(lc)))(fp32, c);
  const detector = await one(lc.config.models.detector, 'detection', lc, ctx, log, quantize);
  let segmenter: LoadedModel | null = null;
  const segRef = lc.config.models.segmenter;
  if (segRef && lc.config.segmentation.every > 0) {
    try {
      segmenter = await one(segRef, 'segmentation', lc, ctx, log, quantize);
    } catch (e) {
      if (!(e instanceof ModelError)) throw e;
      log.warn(
        { model: segRef, reason: e.message },
        `no segmenter: running detection only. To add one: put its file in a folder and run \`edgesight models fetch --from DIR\` (or set EDGESIGHT_MODELS_MIRROR=DIR), or set models.segmenter to a manifest path`,
      );
    }
  }
  return { detector, segmenter };
}
