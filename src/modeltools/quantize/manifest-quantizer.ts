import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FetchContext } from '../../models/fetch.js';
import type { InputSpec, ModelManifest } from '../../models/manifest.js';
import { packageRoot } from '../../models/paths.js';
import type { LoadedModel, Quantizer } from '../../models/store.js';
import { calibrationInputs, extractVideoFrames, listCalibrationImages } from './calibration.js';
import type { RangeMethod } from './histogram.js';
import { profileFor, type QuantProfile } from './profiles.js';
import { quantSettings, QUANTIZER_VERSION } from './settings.js';
import { activationTypeFor, defaultCalibrationSources, procCpuFeatures, type ActivationChoice } from './defaults.js';
import { quantizeModel, type QuantizeReport } from './quantize.js';

export { activationTypeFor, procCpuFeatures, shippedCalibrationSources, defaultCalibrationSources, type ActivationChoice } from './defaults.js';
/** also recorded as provenance.quantization.quantizer_version (read by staleReason) */
export { QUANTIZER_VERSION };

export interface ModelQuantizeSettings {
  activations: ActivationChoice;
  /** override the profile's body method */
  method?: RangeMethod;
  percentile?: number;
  /** extra tensors kept float (added to the profile's) */
  keepFloat?: string[];
  /** override the profile's bias-correction sweeps */
  biasCorrection?: number;
  /** calibration size for models with a dynamic input (W, H) */
  size?: [number, number];
  /** where video/camera frames were extracted to (provenance names them as such, not by this path) */
  scratchDir?: string;
  /** the calibration sources the files came from (recorded in provenance.quantization.settings) */
  sources?: string[];
  /** camera frames among the files (recorded in the settings) */
  cameraFrames?: number;
  log?: (msg: string) => void;
}

const VIDEO_EXT = /\.(mp4|avi|mkv|mov|webm|mjpe?g)$/i;

/**
 * Calibration image files from directories, globs, images and videos (every 10th frame, at most 50 per
 * video, extracted with ffmpeg into `tmpDir`).
 */
export async function gatherCalibrationFiles(specs: string[], tmpDir: string): Promise<string[]> {
  const files: string[] = [];
  for (const s of specs) {
    if (VIDEO_EXT.test(s)) files.push(...(await extractVideoFrames(s, tmpDir, { step: 10, max: 50 })));
    else files.push(...(await listCalibrationImages([s])));
  }
  return [...new Set(files)];
}

export function calibrationSize(input: InputSpec, size?: [number, number]): [number, number] {
  if (input.width && input.height) {
    if (size && (size[0] !== input.width || size[1] !== input.height)) {
      throw new Error(`this model has a fixed ${input.width}×${input.height} input; --size ${size[0]}x${size[1]} does not fit it`);
    }
    return [input.width, input.height];
  }
  const [w, h] = size ?? [320, 240];
  const m = input.multiple_of ?? 1;
  if (w % m !== 0 || h % m !== 0) throw new Error(`calibration size ${w}×${h} must be a multiple of ${m} for this model`);
  return [w, h];
}

export interface ModelQuantizeResult {
  onnx: Uint8Array;
  report: QuantizeReport;
  /** what goes into the int8 manifest's provenance.quantization */
  provenance: Record<string, unknown>;
}

/** Quantizes a manifest-described fp32 model with its catalog profile and the given calibration images. */
export async function quantizeManifestModel(
  fp32File: string,
  manifest: Pick<ModelManifest, 'name' | 'input'>,
  calibFiles: string[],
  s: ModelQuantizeSettings,
): Promise<ModelQuantizeResult> {
  if (calibFiles.length === 0) throw new Error('no calibration images');
  const profile: QuantProfile = profileFor(manifest.name);
  const activationType = activationTypeFor(s.activations);
  const [w, h] = calibrationSize(manifest.input, s.size);
  const exclude = [...profile.exclude, ...(s.keepFloat ?? [])];
  const method = s.method ?? profile.method;
  const percentile = s.percentile ?? profile.percentile;
  const biasCorrection = s.biasCorrection ?? profile.biasCorrection;
  const { onnx, report } = await quantizeModel(await readFile(fp32File), calibrationInputs(calibFiles, manifest.input, w, h), {
    activationType,
    method,
    percentile,
    exclude,
    methodOverrides: profile.methodOverrides,
    perChannelDepthwise: (profile.perChannelDepthwise ?? []).filter((t) => !(s.keepFloat ?? []).includes(t)),
    framePercentile: profile.framePercentile,
    biasCorrection,
    inputShape: [1, 3, h, w],
    ...(s.log ? { log: s.log } : {}),
  });
  return {
    onnx,
    report,
    provenance: {
      tool: 'edgesight quantizer (static QDQ)',
      settings: quantSettings({
        name: manifest.name,
        activationType,
        calibration: s.sources ?? [],
        cameraFrames: s.cameraFrames ?? 0,
        method,
        percentile,
        keepFloat: s.keepFloat ?? [],
        biasCorrection,
      }),
      quantizer_version: QUANTIZER_VERSION,
      arch: process.arch,
      ...(process.arch === 'arm64' ? { cpu_dotprod: procCpuFeatures().includes('asimddp') } : {}),
      activations_requested: s.activations,
      activation_type: activationType,
      weights: 'int8 symmetric per-channel (Conv, axis 0); bias int32',
      method,
      ...(method === 'percentile' ? { percentile } : {}),
      ...(method === 'frames' ? { frame_percentile: profile.framePercentile } : {}),
      method_overrides: profile.methodOverrides,
      keep_float: exclude,
      ...(profile.perChannelDepthwise ? { per_channel_depthwise_input: profile.perChannelDepthwise } : {}),
      bias_correction: biasCorrection,
      profile: profile.notes,
      calibration: { images: calibFiles.length, size: [w, h], sources: summariseSources(calibFiles, s.scratchDir) },
      quantized_tensors: report.quantizedTensors,
      quantized_convs: report.quantizedConvs,
      output_snr_db: Object.fromEntries(report.outputs.map((o) => [o.tensor, Math.round(o.snrDb * 10) / 10])),
      seconds: Math.round(report.seconds * 10) / 10,
    },
  };
}

/** Image counts per folder; shipped folders relative to the package, extracted video/camera frames as such. */
function summariseSources(files: string[], scratchDir?: string): Record<string, number> {
  const root = packageRoot() + path.sep;
  const out: Record<string, number> = {};
  for (const f of files) {
    const dir = path.dirname(f);
    const key =
      scratchDir && dir === path.resolve(scratchDir)
        ? `frames extracted from ${path.basename(f).startsWith('camera_') ? 'the camera' : 'videos'}`
        : dir.startsWith(root)
          ? `<package>/${dir.slice(root.length)}`
          : dir;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

export interface QuantizerOptions {
  /** calibration folders, globs, images or videos (absolute); empty = the shipped set */
  calibration?: string[];
  activations?: ActivationChoice;
  /** extra calibration frames taken from a camera (the user's own scene), written as files into `dir` */
  cameraFrames?: (dir: string) => Promise<string[]>;
  /** how many camera frames were asked for (the settings record the request, not what the camera gave) */
  cameraFrameCount?: number;
}

/**
 * A Quantizer for prepareModel (the daemon's auto-prepare, `detect`, `segment`): the catalog profile,
 * activations chosen for this machine's architecture, calibration on the configured or shipped set
 * (plus camera frames when asked). The result carries `provenance.quantization` for the manifest.
 */
export function makeQuantizer(opts: QuantizerOptions = {}): Quantizer {
  const q: Quantizer = async (fp32: LoadedModel, ctx: FetchContext) => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'edgesight-calib-'));
    try {
      const sources = defaultCalibrationSources(opts.calibration);
      const files = await gatherCalibrationFiles(sources, tmp);
      let camera = 0;
      if (opts.cameraFrames) {
        const grabbed = await opts.cameraFrames(tmp);
        camera = grabbed.length;
        files.push(...grabbed);
      }
      const r = await quantizeManifestModel(fp32.file, fp32.manifest, files, {
        activations: opts.activations ?? 'auto',
        scratchDir: tmp,
        sources,
        cameraFrames: opts.cameraFrameCount ?? camera,
        log: (m) => ctx.log(m),
      });
      if (camera) (r.provenance.calibration as Record<string, unknown>).camera_frames = camera;
      ctx.log(
        `quantized ${fp32.manifest.name}: ${r.report.quantizedTensors} tensors, ${String(r.provenance.activation_type)} activations, on ${files.length} images in ${r.report.seconds.toFixed(1)} s`,
        {
          output_snr_db: r.provenance.output_snr_db,
        },
      );
      return { onnx: r.onnx, provenance: r.provenance };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  };
  q.version = QUANTIZER_VERSION;
  return q;
}
