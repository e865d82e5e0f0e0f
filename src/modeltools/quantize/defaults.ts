import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../models/paths.js';
import type { ActivationType } from './qdq.js';

/*
 * The quantizer's machine and calibration defaults, kept apart from the quantizer itself so the daemon can
 * tell which int8 model fits this machine without loading the quantizer (or ONNX Runtime) in its own process.
 */

export type ActivationChoice = ActivationType | 'auto';

/**
 * Which 8-bit activation type this machine runs best (measured, README "int8 models"):
 * - x86-64: uint8 — ORT fuses uint8 QDQ into QLinear kernels; int8 activations stay mostly unfused.
 * - arm64 with the dot-product extension (`asimddp`, e.g. Cortex-A76 / Pi 5): int8 — sdot kernels;
 *   detector 66.2 M vs 68.5 M instructions, segmenter 69.4 M vs 82.2 M (uint8).
 * - arm64 without it (Cortex-A72 / Pi 4): uint8 — detector 94.0 M vs 98.2 M, segmenter 103.8 M vs 119.1 M.
 * Both are far below fp32 (≈168 M / 171 M) everywhere.
 */
export function activationTypeFor(
  choice: ActivationChoice,
  arch: string = process.arch,
  cpuFeatures: () => string[] = procCpuFeatures,
): ActivationType {
  if (choice !== 'auto') return choice;
  if (arch === 'arm64') return cpuFeatures().includes('asimddp') ? 'int8' : 'uint8';
  if (arch === 'arm') return 'int8';
  return 'uint8';
}

/** The `Features` flags of the first core in /proc/cpuinfo (empty when it cannot be read). */
export function procCpuFeatures(): string[] {
  try {
    const m = /^Features\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1]!.trim().split(/\s+/) : [];
  } catch {
    return [];
  }
}

/**
 * The calibration set shipped with the package: frames of a street scene (OpenCV's vtest clip,
 * `models/calibration/`) and the demo photos (`config/demo-photos/`). Measured on the 80 COCO sample
 * photos, the detector calibrated on it keeps ≥ 95% of float mAP; the 5 photos alone give ~79% and miss
 * the cat (README, "int8 models").
 */
export function shippedCalibrationSources(): string[] {
  return [path.join(packageRoot(), 'models', 'calibration'), path.join(packageRoot(), 'config', 'demo-photos')];
}

/** The configured sources (`models.calibration`, already resolved), else the shipped set. */
export function defaultCalibrationSources(configured: string[] = []): string[] {
  return configured.length ? configured : shippedCalibrationSources();
}
