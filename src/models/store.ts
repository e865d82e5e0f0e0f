import { copyFile, mkdir, readFile, stat, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { catalogEntry, loadCatalogLabels, type CatalogEntry } from './catalog.js';
import { obtainSource, type FetchContext } from './fetch.js';
import { MANIFEST_VERSION, ModelError, readManifest, sha256File, verifyModelFile, type ModelManifest, type Precision } from './manifest.js';
import { convertTflite } from './convert.js';

export interface LoadedModel {
  manifestPath: string;
  manifest: ModelManifest;
  /** verified ONNX file */
  file: string;
}

/** A config value names a model in the cache (`ssdlite_mobilenet_v3_small_coco`) or a manifest file. */
export function isManifestPath(ref: string): boolean {
  return ref.endsWith('.json') || ref.includes('/') || ref.includes(path.sep);
}

export function manifestPathFor(ref: string, precision: Precision, cacheDir: string, baseDir: string): string {
  return isManifestPath(ref) ? path.resolve(baseDir, ref) : path.join(cacheDir, ref, `${precision}.json`);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Load through the manifest only, refusing a missing, truncated or swapped file. */
export async function loadModel(manifestPath: string, expectTask?: 'detection' | 'segmentation'): Promise<LoadedModel> {
  const manifest = await readManifest(manifestPath);
  if (expectTask && manifest.task !== expectTask) {
    throw new ModelError(`${manifestPath} is a ${manifest.task} model, but it is configured as the ${expectTask === 'detection' ? 'detector' : 'segmenter'}`);
  }
  const file = await verifyModelFile(manifestPath, manifest);
  return { manifestPath, manifest, file };
}

export function baseManifest(entry: CatalogEntry, precision: Precision): Omit<ModelManifest, 'file' | 'sha256' | 'bytes'> {
  return {
    manifest_version: MANIFEST_VERSION,
    name: entry.name,
    task: entry.task,
    precision,
    input: entry.input,
    labels: loadCatalogLabels(entry),
    ...(entry.detection ? { detection: entry.detection } : {}),
    ...(entry.segmentation ? { segmentation: entry.segmentation } : {}),
    provenance: {
      source: entry.source.file,
      ...(entry.source.url ? { url: entry.source.url } : {}),
      source_sha256: entry.source.sha256,
      license: entry.source.license,
      created_at: new Date().toISOString(),
    },
  };
}

/** Write `<dir>/<precision>.onnx` + its manifest atomically (a crash never leaves a manifest without its file). */
export async function writeModel(dir: string, base: Omit<ModelManifest, 'file' | 'sha256' | 'bytes'>, onnx: Uint8Array | string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = `${base.precision}.onnx`;
  const dest = path.join(dir, file);
  if (typeof onnx === 'string') await copyFile(onnx, dest + '.part');
  else await writeFile(dest + '.part', onnx);
  await rename(dest + '.part', dest);
  const manifest: ModelManifest = { ...base, file, sha256: await sha256File(dest), bytes: (await stat(dest)).size } as ModelManifest;
  const mpath = path.join(dir, `${base.precision}.json`);
  await writeFile(mpath + '.part', JSON.stringify(manifest, null, 2) + '\n');
  await rename(mpath + '.part', mpath);
  return mpath;
}

export type Quantizer = (fp32: LoadedModel, ctx: FetchContext) => Promise<Uint8Array>;

/**
 * Make a catalogued model available in the cache at a precision: fetch its source (mirror or
 * upstream, sha256-pinned), convert to fp32 ONNX, and quantize for int8 with the given quantizer.
 */
export async function prepareModel(name: string, precision: Precision, ctx: FetchContext, quantize?: Quantizer): Promise<string> {
  const entry = catalogEntry(name);
  if (!entry) throw new ModelError(`unknown model '${name}': not in the catalog and not a manifest path (edgesight models list)`);
  const dir = path.join(ctx.cacheDir, name);
  const target = path.join(dir, `${precision}.json`);
  if (await exists(target)) {
    try {
      await loadModel(target);
      return target;
    } catch (e) {
      ctx.log(`re-preparing ${name} ${precision}: ${(e as Error).message}`);
    }
  }
  if (precision === 'fp32') {
    const src = await obtainSource(entry.source, ctx);
    if (entry.fp32From === 'onnx') return writeModel(dir, baseManifest(entry, 'fp32'), src);
    ctx.log(`converting ${entry.source.file} to a float ONNX graph`);
    const onnx = convertTflite(await readFile(src), { form: 'float' });
    const base = baseManifest(entry, 'fp32');
    base.provenance.converter = 'edgesight tflite→onnx (float: dequantized weights, saturations kept as Clip)';
    return writeModel(dir, base, onnx);
  }
  if (precision === 'qdq-faithful') {
    if (entry.fp32From !== 'tflite-float') throw new ModelError(`${name}: a faithful QDQ form exists only for TFLite sources`);
    const src = await obtainSource(entry.source, ctx);
    const onnx = convertTflite(await readFile(src), { form: 'qdq' });
    const base = baseManifest(entry, 'qdq-faithful');
    base.provenance.converter = "edgesight tflite→onnx (QDQ keeping the source's scales and zero points)";
    return writeModel(dir, base, onnx);
  }
  if (!quantize) throw new ModelError(`${name}: no int8 model in the cache and no quantizer available to make one`);
  const fp32 = await loadModel(await prepareModel(name, 'fp32', ctx));
  ctx.log(`quantizing ${name} to int8 (calibration)`);
  const onnx = await quantize(fp32, ctx);
  return writeModel(dir, baseManifest(entry, 'int8'), onnx);
}
