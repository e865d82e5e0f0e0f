import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { catalogEntry, loadCatalogLabels, type CatalogEntry } from './catalog.js';
import { obtainSource, type FetchContext } from './fetch.js';
import { MANIFEST_VERSION, ModelError, readManifest, sha256File, verifyModelFile, type ModelManifest, type Precision } from './manifest.js';
import type { TfliteConverter } from './converter.js';

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
    throw new ModelError(
      `${manifestPath} is a ${manifest.task} model, but it is configured as the ${expectTask === 'detection' ? 'detector' : 'segmenter'}`,
    );
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
      model_version: entry.version,
      created_at: new Date().toISOString(),
    },
  };
}

/** Write `<dir>/<precision>.onnx` + its manifest atomically (a crash never leaves a manifest without its file). */
export async function writeModel(dir: string, base: Omit<ModelManifest, 'file' | 'sha256' | 'bytes'>, onnx: Uint8Array | string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = `${base.precision}.onnx`;
  const dest = path.join(dir, file);
  // a part name per writer: two processes preparing the same model never write into one file
  const part = `.${process.pid}.${randomBytes(4).toString('hex')}.part`;
  if (typeof onnx === 'string') await copyFile(onnx, dest + part);
  else await writeFile(dest + part, onnx);
  const manifest: ModelManifest = { ...base, file, sha256: await sha256File(dest + part), bytes: (await stat(dest + part)).size } as ModelManifest;
  await rename(dest + part, dest);
  const mpath = path.join(dir, `${base.precision}.json`);
  await writeFile(mpath + part, JSON.stringify(manifest, null, 2) + '\n');
  await rename(mpath + part, mpath);
  return mpath;
}

/**
 * Holds `<dir>/<precision>.lock` (O_EXCL) while `work` runs, so concurrent processes prepare a model
 * once: the others wait and then find it made. A lock whose process is gone is taken over.
 */
async function withPrepareLock<T>(dir: string, precision: Precision, ctx: FetchContext, work: () => Promise<T>): Promise<T> {
  await mkdir(dir, { recursive: true });
  const lock = path.join(dir, `${precision}.lock`);
  let announced = false;
  for (;;) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
      ctx.log(`removing a stale prepare lock ${lock} (process ${holder} is gone)`);
      await rm(lock, { force: true });
      continue;
    }
    if (!announced) {
      ctx.log(`waiting for another process (${holder || 'starting'}) preparing ${path.basename(dir)} ${precision}`);
      announced = true;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  try {
    return await work();
  } finally {
    await rm(lock, { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** An int8 model made from the fp32 one; `provenance` lands in the manifest as `provenance.quantization`. */
export interface QuantizedModel {
  onnx: Uint8Array;
  provenance: Record<string, unknown>;
}

export type Quantizer = ((fp32: LoadedModel, ctx: FetchContext) => Promise<QuantizedModel>) & {
  /** recorded as provenance.quantization.quantizer_version; a cached int8 model made by another is re-made */
  version?: number;
};

/** Why a cached catalogued model must be prepared again (null: it is current). */
export function staleReason(entry: CatalogEntry, m: ModelManifest, quantize?: Quantizer): string | null {
  const v = m.provenance.model_version;
  if (v !== entry.version) return `it was prepared at model version ${v ?? 'unknown'}, this edgesight makes version ${entry.version}`;
  const qv = (m.provenance.quantization as { quantizer_version?: unknown } | undefined)?.quantizer_version;
  if (quantize?.version !== undefined && m.precision === 'int8' && qv !== quantize.version) {
    return `it was quantized by quantizer version ${String(qv ?? 'unknown')}, this edgesight runs version ${quantize.version}`;
  }
  return null;
}

export const FLOAT_CONVERTER = 'edgesight tflite→onnx (float: dequantized weights, saturations kept as Clip except the upper one of class logits)';

/** Where a model is fetched from and cached, and the converter that turns a TFLite source into ONNX. */
export interface PrepareContext extends FetchContext {
  converter: TfliteConverter;
}

export interface PrepareOptions {
  /** why a model already in the cache must be made again (e.g. its quantizer settings changed), or null */
  staleBecause?: (m: ModelManifest) => string | null;
}

/**
 * Make a catalogued model available in the cache at a precision: fetch its source (mirror or
 * upstream, sha256-pinned), convert to fp32 ONNX, and quantize for int8 with the given quantizer.
 */
export async function prepareModel(
  name: string,
  precision: Precision,
  ctx: PrepareContext,
  quantize?: Quantizer,
  opts: PrepareOptions = {},
): Promise<string> {
  const entry = catalogEntry(name);
  if (!entry) throw new ModelError(`unknown model '${name}': not in the catalog and not a manifest path (edgesight models list)`);
  const dir = path.join(ctx.cacheDir, name);
  const target = path.join(dir, `${precision}.json`);
  const ready = async (): Promise<boolean> => {
    if (!(await exists(target))) return false;
    try {
      const { manifest } = await loadModel(target);
      const stale = staleReason(entry, manifest, precision === 'int8' ? quantize : undefined) ?? opts.staleBecause?.(manifest);
      if (stale) {
        ctx.log(`re-preparing ${name} ${precision}: ${stale}`);
        return false;
      }
      return true;
    } catch (e) {
      ctx.log(`re-preparing ${name} ${precision}: ${(e as Error).message}`);
      return false;
    }
  };
  if (await ready()) return target;
  if (precision === 'int8' && !quantize) throw new ModelError(`${name}: no int8 model in the cache and no quantizer available to make one`);
  return withPrepareLock(dir, precision, ctx, async () => ((await ready()) ? target : make(entry, dir, precision, ctx, quantize)));
}

async function make(entry: CatalogEntry, dir: string, precision: Precision, ctx: PrepareContext, quantize?: Quantizer): Promise<string> {
  const name = entry.name;
  if (precision === 'fp32') {
    const src = await obtainSource(entry.source, ctx);
    if (entry.fp32From === 'onnx') return writeModel(dir, baseManifest(entry, 'fp32'), src);
    ctx.log(`converting ${entry.source.file} to a float ONNX graph`);
    const { onnx, classLogitTensors, uncappedTensors } = ctx.converter.toFloat(await readFile(src));
    const base = baseManifest(entry, 'fp32');
    base.provenance.converter = FLOAT_CONVERTER;
    if (classLogitTensors.length) base.provenance.class_logits = { upper_saturation: 'dropped', tensors: uncappedTensors };
    return writeModel(dir, base, onnx);
  }
  if (precision === 'qdq-faithful') {
    if (entry.fp32From !== 'tflite-float') throw new ModelError(`${name}: a faithful QDQ form exists only for TFLite sources`);
    const src = await obtainSource(entry.source, ctx);
    const onnx = ctx.converter.toQdq(await readFile(src));
    const base = baseManifest(entry, 'qdq-faithful');
    base.provenance.converter = "edgesight tflite→onnx (QDQ keeping the source's scales and zero points)";
    return writeModel(dir, base, onnx);
  }
  if (!quantize) throw new ModelError(`${name}: no int8 model in the cache and no quantizer available to make one`);
  const fp32 = await loadModel(await prepareModel(name, 'fp32', ctx));
  ctx.log(`quantizing ${name} to int8 (calibration)`);
  const q = await quantize(fp32, ctx);
  const base = baseManifest(entry, 'int8');
  if (fp32.manifest.provenance.converter) base.provenance.converter = fp32.manifest.provenance.converter;
  if (fp32.manifest.provenance.class_logits) base.provenance.class_logits = fp32.manifest.provenance.class_logits;
  base.provenance.quantization = q.provenance;
  return writeModel(dir, base, q.onnx);
}
