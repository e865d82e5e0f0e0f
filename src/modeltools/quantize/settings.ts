import path from 'node:path';
import { packageRoot } from '../../models/paths.js';
import type { RangeMethod } from './histogram.js';
import { profileFor } from './profiles.js';
import type { ActivationType } from './qdq.js';

/**
 * Everything the quantizer's output depends on besides the fp32 graph itself. An int8 manifest records it
 * as `provenance.quantization.settings`; a cached or shipped int8 model is used only when its settings
 * equal the ones configured now, so a changed profile, activation type or calibration set re-makes it.
 */
/**
 * Bumped whenever the quantizer's defaults (profiles, calibration handling) change what it makes: part of
 * the settings, so a cached or shipped int8 model made by another version is made again.
 */
export const QUANTIZER_VERSION = 4;

export interface QuantSettings {
  quantizer_version: number;
  activation_type: ActivationType;
  method: RangeMethod;
  /** only for the percentile method (null otherwise) */
  percentile: number | null;
  /** only for the frames method (null otherwise) */
  frame_percentile: number | null;
  method_overrides: Array<{ pattern: string; method: RangeMethod }>;
  keep_float: string[];
  /** bias-correction sweeps (0 = none) */
  bias_correction: number;
  /** calibration sources: inside the package as `<package>/models/calibration`, others as given (absolute) */
  calibration: string[];
  /** frames taken from the configured camera on top of the sources */
  camera_frames: number;
}

export interface SettingsInput {
  name: string | null;
  activationType: ActivationType;
  /** resolved calibration sources (the shipped set when the config names none) */
  calibration: string[];
  cameraFrames?: number;
  method?: RangeMethod;
  percentile?: number;
  keepFloat?: string[];
  biasCorrection?: number;
}

/** A calibration source as recorded: relative to the package when it ships with it, so installs agree. */
export function describeSource(source: string): string {
  const root = packageRoot() + path.sep;
  const abs = path.resolve(source);
  return abs.startsWith(root) ? `<package>/${abs.slice(root.length).split(path.sep).join('/')}` : abs;
}

export function quantSettings(s: SettingsInput): QuantSettings {
  const profile = profileFor(s.name);
  const method = s.method ?? profile.method;
  return {
    quantizer_version: QUANTIZER_VERSION,
    activation_type: s.activationType,
    method,
    percentile: method === 'percentile' ? (s.percentile ?? profile.percentile) : null,
    frame_percentile: method === 'frames' ? profile.framePercentile : null,
    method_overrides: profile.methodOverrides.map((o) => ({ pattern: o.pattern, method: o.method })),
    keep_float: [...profile.exclude, ...(s.keepFloat ?? [])],
    bias_correction: s.biasCorrection ?? profile.biasCorrection,
    calibration: s.calibration.map(describeSource),
    camera_frames: s.cameraFrames ?? 0,
  };
}

/** The keys whose values differ (empty = same settings); a manifest without recorded settings differs in all. */
export function settingsDiff(recorded: unknown, want: QuantSettings): string[] {
  const rec = recorded && typeof recorded === 'object' ? (recorded as Record<string, unknown>) : {};
  return (Object.keys(want) as Array<keyof QuantSettings>).filter((k) => JSON.stringify(rec[k]) !== JSON.stringify(want[k]));
}

/** `provenance.quantization.settings` of a manifest, if any. */
export function recordedSettings(provenance: { quantization?: Record<string, unknown> }): unknown {
  return provenance.quantization?.settings;
}
