import path from 'node:path';
import { repoModelsDir } from './paths.js';

/** The int8 activation types a prepared model ships for (see quantize/defaults.ts for which machine runs which). */
export type PreparedActivation = 'uint8' | 'int8';

const SUFFIX: Record<PreparedActivation, string> = { uint8: 'u8', int8: 's8' };

/** `models/prepared/` in the package: int8 models made from models/sources/ by `npm run models:build`. */
export function preparedDir(): string {
  return path.join(repoModelsDir(), 'prepared');
}

/** e.g. `models/prepared/ssdlite_mobilenet_v3_small_coco/int8-u8.json` (its ONNX file beside it) */
export function preparedManifestPath(name: string, activation: PreparedActivation, root = preparedDir()): string {
  return path.join(root, name, `int8-${SUFFIX[activation]}.json`);
}

export function preparedFileName(activation: PreparedActivation): string {
  return `int8-${SUFFIX[activation]}.onnx`;
}
