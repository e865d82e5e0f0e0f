import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EX_USAGE, parse, UsageError } from './args.js';
import { modelsContext, say } from './models-common.js';
import { QUANTIZE_OPTIONS } from './commands.js';
import { catalogEntry } from '../models/catalog.js';
import { ModelError, readManifest, modelFilePath, type ModelManifest } from '../models/manifest.js';
import { isManifestPath, loadModel, prepareModel, writeModel } from '../models/store.js';
import { RANGE_METHODS, type RangeMethod } from '../modeltools/quantize/histogram.js';
import {
  defaultCalibrationSources,
  gatherCalibrationFiles,
  quantizeManifestModel,
  type ActivationChoice,
} from '../modeltools/quantize/manifest-quantizer.js';
import { grabCameraFrames } from '../modeltools/quantize/camera.js';
import { formatReport } from '../modeltools/quantize/quantize.js';

export const QUANTIZE_HELP = `edgesight models quantize NAME|MANIFEST.json [options]

Static int8 quantization (QDQ): per-channel int8 conv weights, per-tensor 8-bit activations calibrated
on images. Writes <cache>/<name>/int8.onnx + int8.json (provenance.quantization records the settings).

  --calib DIR|GLOB|IMAGE|VIDEO   calibration images (repeatable; videos: every 10th frame, ≤ 50)
                                 default: models.calibration, else the shipped set (40 street-scene
                                 frames in models/calibration + the demo photos in config/demo-photos)
  --camera N                     also take N frames from the configured camera
                                 (default: models.calibration_frames)
  --method minmax|percentile|mse|frames
                                 range method for the body (frames: the 90th percentile of
                                 the images' own extremes) (default: the model's profile)
  --percentile P                 for percentile (default 99.99)
  --activations uint8|int8|auto  auto = int8 on arm64 cores with dot-product instructions (asimddp:
                                 Pi 5), uint8 elsewhere (x86-64, Pi 4's Cortex-A72) (default auto)
  --keep-float NAME              keep a tensor/node (glob *) in float (repeatable)
  --size WxH                     calibration size for models with a dynamic input (default 320x240)
  --report FILE.json             write the per-layer error report as JSON
  --config PATH, --cache DIR, --from DIR, --offline   as for the other models commands
`;

// the options (and their --help) are defined with every other command's in src/cli/commands.ts
const OPTIONS = { ...QUANTIZE_OPTIONS, help: { type: 'boolean', short: 'h' } } as const;

function positiveInt(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${what} must be a positive integer, got '${v}'`);
  return n;
}

/** `edgesight models quantize ...`; returns the exit status. */
export async function quantizeCommand(argv: string[]): Promise<number> {
  let values: ReturnType<typeof parse<typeof OPTIONS>>['values'];
  let positionals: string[];
  try {
    ({ values, positionals } = parse(argv, OPTIONS));
  } catch (e) {
    say(`${(e as Error).message}\n\n${QUANTIZE_HELP}`);
    return EX_USAGE;
  }
  if (values.help) {
    process.stdout.write(QUANTIZE_HELP);
    return 0;
  }
  try {
    if (positionals.length !== 1) throw new UsageError('quantize needs exactly one model NAME or fp32 manifest path');
    const method = values.method as RangeMethod | undefined;
    if (method !== undefined && !RANGE_METHODS.includes(method))
      throw new UsageError(`--method must be one of ${RANGE_METHODS.join(', ')}, got '${method}'`);
    const activations = (values.activations ?? 'auto') as ActivationChoice;
    if (!['uint8', 'int8', 'auto'].includes(activations)) throw new UsageError(`--activations must be uint8, int8 or auto, got '${activations}'`);
    let percentile: number | undefined;
    if (values.percentile !== undefined) {
      percentile = Number(values.percentile);
      if (!(percentile > 50 && percentile <= 100)) throw new UsageError(`--percentile must be in (50, 100], got '${values.percentile}'`);
    }
    let size: [number, number] | undefined;
    if (values.size !== undefined) {
      const m = /^(\d+)x(\d+)$/.exec(values.size);
      if (!m) throw new UsageError(`--size must be WxH (e.g. 320x240), got '${values.size}'`);
      size = [Number(m[1]), Number(m[2])];
    }

    const { lc, ctx } = modelsContext(values);
    const cameraFrames = values.camera !== undefined ? positiveInt(values.camera, '--camera') : lc.config.models.calibration_frames;
    const ref = positionals[0];
    // the fp32 model: a catalogued name (prepared in the cache) or an fp32 manifest
    let fp32Manifest: ModelManifest;
    let fp32File: string;
    let outDir: string;
    if (isManifestPath(ref)) {
      const mpath = path.resolve(ref);
      const loaded = await loadModel(mpath);
      fp32Manifest = loaded.manifest;
      fp32File = loaded.file;
      if (fp32Manifest.precision !== 'fp32') throw new ModelError(`${mpath} is a ${fp32Manifest.precision} model; quantize its fp32 manifest`);
      outDir = path.dirname(mpath);
    } else {
      if (!catalogEntry(ref)) throw new ModelError(`unknown model '${ref}': not in the catalog and not a manifest path (edgesight models list)`);
      const loaded = await loadModel(await prepareModel(ref, 'fp32', ctx));
      fp32Manifest = loaded.manifest;
      fp32File = loaded.file;
      outDir = path.join(ctx.cacheDir, ref);
    }

    const tmp = await mkdtemp(path.join(os.tmpdir(), 'edgesight-calib-'));
    try {
      // --calib, else models.calibration (relative to the config file), else the shipped set
      const sources = values.calib?.length
        ? values.calib.map((c) => path.resolve(c))
        : defaultCalibrationSources(lc.config.models.calibration.map((c) => path.resolve(lc.dir, c)));
      const files = await gatherCalibrationFiles(sources, tmp);
      if (cameraFrames) files.push(...(await grabCameraFrames(lc.config.camera, cameraFrames, tmp)));
      say(`calibrating ${fp32Manifest.name} on ${files.length} images`);
      const r = await quantizeManifestModel(fp32File, fp32Manifest, files, {
        activations,
        ...(method ? { method } : {}),
        ...(percentile !== undefined ? { percentile } : {}),
        keepFloat: values['keep-float'] ?? [],
        ...(size ? { size } : {}),
        scratchDir: tmp,
        log: say,
      });
      if (cameraFrames) (r.provenance.calibration as Record<string, unknown>).camera_frames = cameraFrames;
      const { file: _f, sha256: _s, bytes: _b, ...base } = fp32Manifest;
      const mpath = await writeModel(
        outDir,
        {
          ...base,
          precision: 'int8',
          provenance: { ...fp32Manifest.provenance, created_at: new Date().toISOString(), quantization: r.provenance },
        },
        r.onnx,
      );
      process.stdout.write(formatReport(r.report) + '\n');
      if (values.report) await writeFile(path.resolve(values.report), JSON.stringify(r.report, null, 2) + '\n');
      say(`wrote ${mpath} → ${modelFilePath(mpath, await readManifest(mpath))} (${(r.onnx.length / 1e6).toFixed(2)} MB)`);
      return 0;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    if (e instanceof UsageError) {
      say(`${e.message}\n\n${QUANTIZE_HELP}`);
      return EX_USAGE;
    }
    say(`quantize: ${(e as Error).message}`);
    return 1;
  }
}
