import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { LoadedConfig } from '../config/types.js';
import { mirrorsFromEnv } from '../models/fetch.js';
import { resolveCacheDir } from '../models/paths.js';
import { catalogEntry } from '../models/catalog.js';
import {
  isManifestPath,
  loadModel,
  manifestPathFor,
  prepareModel,
  staleReason,
  type LoadedModel,
  type PrepareContext,
  type Quantizer,
} from '../models/store.js';
import { ModelError, type ModelManifest } from '../models/manifest.js';
import { preparedManifestPath } from '../models/prepared.js';
import {
  activationTypeFor,
  defaultCalibrationSources,
  quantSettings,
  quantizeInChild,
  settingsStaleReason,
  tfliteConverter,
  type QuantSettings,
} from '../modeltools/runtime-entry.js';

/** The model store's context under this config; the store is handed the tooling's TFLite converter here. */
export function fetchContext(lc: LoadedConfig, log: Logger, env: NodeJS.ProcessEnv = process.env): PrepareContext {
  const cfg = lc.config.models;
  return {
    converter: tfliteConverter,
    cacheDir: resolveCacheDir(cfg.cache_dir, env, lc.dir),
    mirrors: [...mirrorsFromEnv(env), ...cfg.mirror.map((m) => path.resolve(lc.dir, m))],
    allowNetwork: env.EDGESIGHT_OFFLINE !== '1',
    log: (msg, extra) => log.info({ ...extra }, msg),
  };
}

/** The quantizer settings an int8 model of `name` must have been made with under this config, on this machine. */
export function configuredQuantSettings(lc: LoadedConfig, name: string): QuantSettings {
  const m = lc.config.models;
  return quantSettings({
    name,
    activationType: activationTypeFor('auto'),
    calibration: defaultCalibrationSources(m.calibration.map((c) => path.resolve(lc.dir, c))),
    cameraFrames: m.calibration_frames,
  });
}

const missing = (e: unknown): boolean => /cannot be read: ENOENT/.test((e as Error).message);

/**
 * A catalogued model at int8, in this order: the cache's int8 model when it was made with the configured
 * quantizer settings; the prepared one shipped in models/prepared/ for this machine's activation type
 * when its settings match too (the default case: nothing is quantized or converted); else a new one,
 * quantized in a child process so the daemon keeps the memory of a prepared start.
 */
async function int8Model(
  ref: string,
  task: 'detection' | 'segmentation',
  lc: LoadedConfig,
  ctx: PrepareContext,
  log: Logger,
  quantize?: Quantizer,
): Promise<LoadedModel> {
  const want = configuredQuantSettings(lc, ref);
  const entry = catalogEntry(ref);
  const sha = entry?.source.sha256;
  // an older model version (e.g. capped scores) or other quantizer settings: not this config's model
  const whyStale = (m: ModelManifest): string | null => (entry ? staleReason(entry, m) : null) ?? settingsStaleReason(m, want, sha);
  const cachedPath = path.join(ctx.cacheDir, ref, 'int8.json');
  let cached: LoadedModel | null = null;
  try {
    cached = await loadModel(cachedPath, task);
    const why = whyStale(cached.manifest);
    if (!why) return cached;
    log.info({ model: ref, manifest: cachedPath }, `the cached int8 ${ref} is not used: ${why}`);
  } catch (e) {
    if (!missing(e)) log.warn({ model: ref, manifest: cachedPath, reason: (e as Error).message }, `the cached int8 ${ref} is not usable`);
  }
  const shippedPath = preparedManifestPath(ref, want.activation_type);
  let shipped: LoadedModel | null = null;
  try {
    shipped = await loadModel(shippedPath, task);
    const why = whyStale(shipped.manifest);
    if (!why) {
      log.info(
        { model: ref, manifest: shippedPath, activations: want.activation_type },
        `using the prepared int8 ${ref} shipped with the package (${want.activation_type} activations)`,
      );
      return shipped;
    }
    log.info({ model: ref, manifest: shippedPath }, `the shipped int8 ${ref} is not used: ${why}`);
  } catch (e) {
    if (!missing(e)) log.warn({ model: ref, manifest: shippedPath, reason: (e as Error).message }, `the shipped int8 ${ref} is not usable`);
  }
  if (!lc.config.models.auto_prepare) {
    const have = cached ?? shipped;
    if (have) {
      log.warn(
        { model: ref, manifest: have.manifestPath },
        `models.auto_prepare is off: using ${have.manifestPath} although its quantizer settings differ`,
      );
      return have;
    }
    throw new ModelError(
      `${ref}: no int8 model in ${cachedPath} or ${shippedPath}, and models.auto_prepare is off (run \`edgesight models quantize ${ref}\`)`,
    );
  }
  if (quantize) return loadModel(await prepareModel(ref, 'int8', ctx, quantize, { staleBecause: whyStale }), task);
  log.info(
    { model: ref, precision: 'int8', cache: ctx.cacheDir },
    `quantizing ${ref} to int8 in a child process (calibration; takes a while on a Pi)`,
  );
  const m = lc.config.models;
  const r = await quantizeInChild(
    {
      name: ref,
      cacheDir: ctx.cacheDir,
      mirrors: ctx.mirrors,
      allowNetwork: ctx.allowNetwork,
      calibration: m.calibration.map((c) => path.resolve(lc.dir, c)),
      cameraFrames: m.calibration_frames,
      camera: lc.config.camera,
      want,
    },
    ctx,
  );
  log.info(
    { model: ref, seconds: Math.round(r.seconds * 10) / 10, quantizer_peak_rss_mb: r.peakRssMb },
    `prepared int8 ${ref} in ${r.seconds.toFixed(1)} s (quantizer process peak RSS ${r.peakRssMb} MB)`,
  );
  return loadModel(r.manifest, task);
}

async function one(
  ref: string,
  task: 'detection' | 'segmentation',
  lc: LoadedConfig,
  ctx: PrepareContext,
  log: Logger,
  quantize?: Quantizer,
): Promise<LoadedModel> {
  const precision = lc.config.models.precision;
  if (precision === 'int8' && !isManifestPath(ref) && catalogEntry(ref)) return int8Model(ref, task, lc, ctx, log, quantize);
  const mpath = manifestPathFor(ref, precision, ctx.cacheDir, lc.dir);
  let loaded: LoadedModel;
  try {
    loaded = await loadModel(mpath, task);
  } catch (e) {
    if (isManifestPath(ref) || !lc.config.models.auto_prepare) throw e;
    const missing = /does not exist|cannot be read: ENOENT/.test((e as Error).message);
    if (missing) log.info({ model: ref, precision, cache: ctx.cacheDir }, `model ${ref} (${precision}) is not prepared yet: preparing it`);
    // a truncated or tampered file is never loaded: say which, then make it again from the pinned source
    else
      log.warn(
        { model: ref, precision, reason: (e as Error).message },
        `model ${ref} (${precision}) in the cache is refused: ${(e as Error).message}; preparing it again from its source`,
      );
    try {
      return await loadModel(await prepareModel(ref, precision, ctx, quantize), task);
    } catch (err) {
      let code = (err as NodeJS.ErrnoException).code;
      let where = (err as NodeJS.ErrnoException).path ?? ctx.cacheDir;
      // a recursive mkdir on a read-only mount reports ENOENT: ask the cache directory itself
      if (code === 'ENOENT') {
        const probe = await access(ctx.cacheDir, constants.W_OK).then(
          () => null,
          (x: NodeJS.ErrnoException) => x.code ?? null,
        );
        if (probe) (code = probe), (where = ctx.cacheDir);
      }
      if (code === 'ENOSPC' || code === 'EROFS' || code === 'EACCES' || code === 'EDQUOT' || code === 'EPERM') {
        const why =
          code === 'ENOSPC' || code === 'EDQUOT' ? 'the disk is full' : code === 'EROFS' ? 'the file system is read-only' : 'permission denied';
        throw new ModelError(
          `cannot prepare model ${ref} (${precision}): writing ${where} failed with ${code} (${why}); free space in or fix ${ctx.cacheDir} (models.cache_dir), or prepare the models elsewhere and copy them in`,
        );
      }
      throw err;
    }
  }
  // a catalogued model prepared by an older edgesight (e.g. with capped scores) is made again
  const entry = isManifestPath(ref) ? undefined : catalogEntry(ref);
  const stale = entry ? staleReason(entry, loaded.manifest) : null;
  if (!stale) return loaded;
  if (!lc.config.models.auto_prepare) {
    log.warn(
      { model: ref, precision, reason: stale },
      `model ${ref} (${precision}) is out of date; using it because models.auto_prepare is off (run \`edgesight models fetch\` to remake it)`,
    );
    return loaded;
  }
  log.info({ model: ref, precision, reason: stale }, `model ${ref} (${precision}) is out of date: preparing it again`);
  return loadModel(await prepareModel(ref, precision, ctx, quantize), task);
}

/**
 * The configured detector (required: failure stops the daemon) and segmenter (optional: when it cannot
 * be had, the daemon runs detection only and says so once, with how to add one).
 */
export async function loadConfiguredModels(
  lc: LoadedConfig,
  log: Logger,
  quantize?: Quantizer,
): Promise<{ detector: LoadedModel; segmenter: LoadedModel | null }> {
  const ctx = fetchContext(lc, log);
  // int8 catalog models are quantized in a child process unless a quantizer is given; this one serves
  // models outside the catalog (which never reach the quantizer: prepareModel refuses them)
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
