import path from 'node:path';
import type { LoadedConfig } from '../../config/types.js';
import type { Quantizer } from '../../models/store.js';
import { makeQuantizer } from './manifest-quantizer.js';

/**
 * The quantizer made from the config: `models.calibration` (relative to the config file; empty = the
 * shipped set) plus `models.calibration_frames` frames from the configured camera.
 */
export function configuredQuantizer(lc: LoadedConfig): Quantizer {
  const m = lc.config.models;
  const frames = m.calibration_frames;
  return makeQuantizer({
    calibration: m.calibration.map((c) => path.resolve(lc.dir, c)),
    ...(frames > 0 ? { cameraFrames: async (dir: string) => (await import('./camera.js')).grabCameraFrames(lc.config.camera, frames, dir) } : {}),
  });
}
