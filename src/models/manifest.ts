import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { InputSpec } from '../preprocess/input-spec.js';
import type { DetectionSpec, SsdAnchorSpec } from '../postprocess/detection-spec.js';

export type { DetectionSpec, InputSpec, SsdAnchorSpec };

/**
 * A model manifest: the only way the daemon learns about a model. It sits beside the ONNX file as
 * `<name>.<precision>.json` and pins the file by sha256 so a swapped or truncated file is refused.
 */
export const MANIFEST_VERSION = 1;

export type Precision = 'fp32' | 'int8' | 'qdq-faithful';

export interface SegmentationSpec {
  outputs: { logits: string };
  output_stride: number;
}

export interface Provenance {
  source: string;
  url?: string;
  source_sha256?: string;
  license?: string;
  converter?: string;
  /** the catalog entry's version the model was prepared at (a different one makes the cache re-prepare it) */
  model_version?: number;
  /** what the TFLite conversion did with the class-logit saturations (detectors converted from TFLite) */
  class_logits?: { upper_saturation: 'dropped' | 'kept'; tensors: string[] };
  created_at?: string;
  notes?: string;
  /** quantizer settings & per-architecture activation type choice, written by `models quantize` */
  quantization?: Record<string, unknown>;
}

export interface ModelManifest {
  manifest_version: number;
  name: string;
  task: 'detection' | 'segmentation';
  precision: Precision;
  file: string;
  sha256: string;
  bytes: number;
  input: InputSpec;
  /** labels[i] = label of class index i ('n/a' for unused COCO ids) */
  labels: string[];
  detection?: DetectionSpec;
  segmentation?: SegmentationSpec;
  provenance: Provenance;
}

export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Read a manifest and check its shape; path errors name the manifest file. */
export async function readManifest(manifestPath: string): Promise<ModelManifest> {
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (e) {
    throw new ModelError(`model manifest ${manifestPath} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ModelError(`model manifest ${manifestPath} is not valid JSON: ${(e as Error).message}`);
  }
  return checkManifestShape(json, manifestPath);
}

export function checkManifestShape(json: unknown, where: string): ModelManifest {
  const problems: string[] = [];
  const m = json as Partial<ModelManifest>;
  if (typeof json !== 'object' || json === null) throw new ModelError(`${where}: manifest must be a JSON object`);
  if (m.manifest_version !== MANIFEST_VERSION) problems.push(`manifest_version must be ${MANIFEST_VERSION} (got ${String(m.manifest_version)})`);
  if (typeof m.name !== 'string' || !m.name) problems.push('name must be a non-empty string');
  if (m.task !== 'detection' && m.task !== 'segmentation') problems.push("task must be 'detection' or 'segmentation'");
  if (!['fp32', 'int8', 'qdq-faithful'].includes(String(m.precision))) problems.push("precision must be 'fp32', 'int8' or 'qdq-faithful'");
  if (typeof m.file !== 'string' || !m.file) problems.push('file must name the ONNX file');
  if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) problems.push('sha256 must be 64 lowercase hex digits');
  if (!m.input || typeof m.input.name !== 'string') problems.push('input.name must be a string');
  if (!Array.isArray(m.labels) || m.labels.some((l) => typeof l !== 'string')) problems.push('labels must be an array of strings');
  if (m.task === 'detection' && !m.detection) problems.push('a detection model needs a `detection` section (outputs, anchors, box_coder)');
  if (m.task === 'segmentation' && !m.segmentation) problems.push('a segmentation model needs a `segmentation` section (outputs, output_stride)');
  if (problems.length) throw new ModelError(`${where}: invalid manifest:\n  - ${problems.join('\n  - ')}`);
  return m as ModelManifest;
}

/** Absolute path of the model file a manifest names (relative to the manifest's folder). */
export function modelFilePath(manifestPath: string, manifest: ModelManifest): string {
  return path.resolve(path.dirname(manifestPath), manifest.file);
}

/** Refuse a model whose file is missing, truncated or not the one the manifest pins. */
export async function verifyModelFile(manifestPath: string, manifest: ModelManifest): Promise<string> {
  const file = modelFilePath(manifestPath, manifest);
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch {
    throw new ModelError(`model file ${file} (named by ${manifestPath}) does not exist; run \`edgesight models fetch\``);
  }
  if (size !== manifest.bytes) {
    throw new ModelError(`model file ${file} is ${size} bytes but its manifest says ${manifest.bytes}: truncated or replaced; re-fetch it`);
  }
  const sum = await sha256File(file);
  if (sum !== manifest.sha256) {
    throw new ModelError(`model file ${file} has sha256 ${sum} but its manifest pins ${manifest.sha256}: corrupt or replaced; re-fetch it`);
  }
  return file;
}
