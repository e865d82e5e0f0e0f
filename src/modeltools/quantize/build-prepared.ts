import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CATALOG, catalogEntry } from '../../models/catalog.js';
import { ModelError, sha256File, type ModelManifest } from '../../models/manifest.js';
import { preparedDir, preparedFileName, preparedManifestPath, type PreparedActivation } from '../../models/prepared.js';
import { baseManifest, loadModel, prepareModel, type PrepareContext } from '../../models/store.js';
import { tfliteConverter } from '../convert.js';
import { shippedCalibrationSources } from './defaults.js';
import { gatherCalibrationFiles, quantizeManifestModel } from './manifest-quantizer.js';

/** No shipped model file may grow past this (the repository stays lean). */
export const PREPARED_MAX_BYTES = 8 * 1024 * 1024;
export const PREPARED_ACTIVATIONS: PreparedActivation[] = ['uint8', 'int8'];

/** Fields of provenance.quantization that change from run to run or machine to machine: not shipped. */
const VOLATILE = ['seconds', 'arch', 'cpu_dotprod', 'activations_requested'];

export interface BuiltModel {
  name: string;
  activation: PreparedActivation;
  manifest: string;
  file: string;
  sha256: string;
  bytes: number;
}

/**
 * Makes the shipped int8 models: every catalogued model from its packaged source (models/sources/, no
 * mirror, no network), converted to fp32 as the cache would, then quantized for both activation types
 * with the default settings (the model's profile, the shipped calibration set, no camera frames).
 * The manifests hold nothing that changes between runs, so a rebuild with an unchanged converter and
 * quantizer leaves the folder byte-for-byte as it was. Returns what was written.
 */
export async function buildPrepared(opts: { outDir?: string; names?: string[]; log?: (msg: string) => void } = {}): Promise<BuiltModel[]> {
  const outDir = opts.outDir ?? preparedDir();
  const log = opts.log ?? (() => {});
  const names = opts.names ?? CATALOG.map((e) => e.name);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'edgesight-prepared-'));
  const built: BuiltModel[] = [];
  try {
    const ctx: PrepareContext = { converter: tfliteConverter, cacheDir: path.join(tmp, 'cache'), mirrors: [], allowNetwork: false, log };
    const sources = shippedCalibrationSources();
    const files = await gatherCalibrationFiles(sources, path.join(tmp));
    for (const name of names) {
      const entry = catalogEntry(name);
      if (!entry) throw new ModelError(`unknown model '${name}'`);
      const fp32 = await loadModel(await prepareModel(name, 'fp32', ctx));
      for (const activation of PREPARED_ACTIVATIONS) {
        log(`quantizing ${name} (${activation} activations) on ${files.length} shipped calibration images`);
        const r = await quantizeManifestModel(fp32.file, fp32.manifest, files, { activations: activation, sources, log });
        const quantization: Record<string, unknown> = { ...r.provenance, fp32_sha256: fp32.manifest.sha256 };
        for (const k of VOLATILE) delete quantization[k];
        const base = baseManifest(entry, 'int8');
        delete base.provenance.created_at;
        if (fp32.manifest.provenance.converter) base.provenance.converter = fp32.manifest.provenance.converter;
        base.provenance.notes = 'made by `npm run models:build` from models/sources/ with the default quantizer settings';
        base.provenance.quantization = quantization;
        built.push(await writePrepared(outDir, base, activation, r.onnx));
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return built;
}

async function writePrepared(
  outDir: string,
  base: Omit<ModelManifest, 'file' | 'sha256' | 'bytes'>,
  activation: PreparedActivation,
  onnx: Uint8Array,
): Promise<BuiltModel> {
  if (onnx.length > PREPARED_MAX_BYTES)
    throw new ModelError(`${base.name} (${activation}) is ${onnx.length} bytes, over the ${PREPARED_MAX_BYTES}-byte limit for shipped files`);
  const mpath = preparedManifestPath(base.name, activation, outDir);
  const file = preparedFileName(activation);
  const dest = path.join(path.dirname(mpath), file);
  await mkdir(path.dirname(mpath), { recursive: true });
  await writeFile(dest + '.part', onnx);
  await rename(dest + '.part', dest);
  const sha256 = await sha256File(dest);
  const manifest = { ...base, file, sha256, bytes: onnx.length } as ModelManifest;
  await writeFile(mpath + '.part', JSON.stringify(manifest, null, 2) + '\n');
  await rename(mpath + '.part', mpath);
  return { name: base.name, activation, manifest: mpath, file: dest, sha256, bytes: onnx.length };
}
