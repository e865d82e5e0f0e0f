import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createSession, ort } from '../inference/session.js';
import { generateSsdAnchors } from '../postprocess/anchors.js';
import { catalogEntry, CATALOG } from '../models/catalog.js';
import { checkManifestShape, MANIFEST_VERSION, ModelError, sha256File, type ModelManifest, type Precision } from '../models/manifest.js';
import { baseManifest, writeModel } from '../models/store.js';

/**
 * Bring-your-own-model: a user's ONNX gets a manifest and a place in the cache, but only after ONNX
 * Runtime has loaded it and one inference has shown that the declared inputs and outputs exist with the
 * shapes the post-processing will assume (anchors × classes × 4 boxes, or classes × H/stride × W/stride).
 */

export interface ContractCheck {
  /** the input size the probe ran at */
  probe: { width: number; height: number };
  outputs: Record<string, number[]>;
}

type ManifestBody = Omit<ModelManifest, 'file' | 'sha256' | 'bytes'>;

function lcm(a: number, b: number): number {
  const gcd = (x: number, y: number): number => (y ? gcd(y, x % y) : x);
  return (a * b) / gcd(a, b);
}

/** A probe size for a dynamic input: near 320×240, a multiple of multiple_of and of the output stride. */
export function probeSize(m: ManifestBody): { width: number; height: number } {
  const step = lcm(m.input.multiple_of ?? 1, m.segmentation?.output_stride ?? 1);
  const round = (v: number): number => Math.max(step, Math.round(v / step) * step);
  return { width: m.input.width ?? round(320), height: m.input.height ?? round(240) };
}

const same = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Loads the model in ONNX Runtime and runs it once on a zero image of the manifest's input size, checking
 * every name and shape the daemon relies on. Throws a ModelError listing every mismatch.
 */
export async function checkContract(m: ManifestBody, file: string): Promise<ContractCheck> {
  let session: ort.InferenceSession;
  try {
    session = await createSession(file, { threads: 1, spinning: false });
  } catch (e) {
    throw new ModelError(`ONNX Runtime cannot load ${file}: ${(e as Error).message}`);
  }
  try {
    const problems: string[] = [];
    if (!session.inputNames.includes(m.input.name))
      problems.push(`input '${m.input.name}' does not exist (the model's inputs: ${session.inputNames.join(', ')})`);
    const wanted = m.task === 'detection' ? [m.detection!.outputs.scores, m.detection!.outputs.boxes] : [m.segmentation!.outputs.logits];
    for (const o of wanted)
      if (!session.outputNames.includes(o)) problems.push(`output '${o}' does not exist (the model's outputs: ${session.outputNames.join(', ')})`);
    if (problems.length) throw new ModelError(`${file} does not match its manifest:\n  - ${problems.join('\n  - ')}`);

    const probe = probeSize(m);
    const feeds: Record<string, ort.Tensor> = {};
    feeds[m.input.name] = new ort.Tensor('float32', new Float32Array(3 * probe.width * probe.height), [1, 3, probe.height, probe.width]);
    let out: ort.InferenceSession.ReturnType;
    try {
      out = await session.run(feeds, wanted);
    } catch (e) {
      throw new ModelError(`${file} fails on a 1×3×${probe.height}×${probe.width} float input '${m.input.name}': ${(e as Error).message}`);
    }
    const outputs: Record<string, number[]> = {};
    for (const o of wanted) {
      const t = out[o]!;
      outputs[o] = [...t.dims];
      if (t.type !== 'float32') problems.push(`output '${o}' is ${t.type}; the post-processing reads float32`);
    }
    const classes = m.labels.length;
    if (m.task === 'detection') {
      const d = m.detection!;
      const anchors = generateSsdAnchors(d.anchors).length / 4;
      if (anchors !== d.num_anchors) problems.push(`the anchor spec generates ${anchors} anchors but num_anchors is ${d.num_anchors}`);
      const s = outputs[d.outputs.scores]!;
      const b = outputs[d.outputs.boxes]!;
      if (!same(s, [1, d.num_anchors, classes]))
        problems.push(`scores '${d.outputs.scores}' has shape [${s.join(', ')}], expected [1, ${d.num_anchors} anchors, ${classes} labels]`);
      if (!same(b, [1, d.num_anchors, 4])) problems.push(`boxes '${d.outputs.boxes}' has shape [${b.join(', ')}], expected [1, ${d.num_anchors}, 4]`);
      if (d.background_class !== null && (d.background_class < 0 || d.background_class >= classes))
        problems.push(`background_class ${d.background_class} is outside the ${classes} labels`);
    } else {
      const sg = m.segmentation!;
      const l = outputs[sg.outputs.logits]!;
      const expect = [1, classes, probe.height / sg.output_stride, probe.width / sg.output_stride];
      if (!same(l, expect))
        problems.push(
          `logits '${sg.outputs.logits}' at a ${probe.width}×${probe.height} input has shape [${l.join(', ')}], expected [${expect.join(', ')}] (${classes} labels, output stride ${sg.output_stride}, no upsampling in the graph)`,
        );
    }
    if (problems.length) throw new ModelError(`${file} does not match its manifest:\n  - ${problems.join('\n  - ')}`);
    return { probe, outputs };
  } finally {
    await session.release();
  }
}

/** Labels file: one label per line (blank lines ignored). */
export async function readLabels(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ModelError(`labels file ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const labels = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (!labels.length) throw new ModelError(`labels file ${file} has no labels`);
  return labels;
}

export interface ImportOptions {
  onnx: string;
  name: string;
  cacheDir: string;
  precision?: Precision;
  /** take input/detection/segmentation/labels from a catalogued model */
  like?: string;
  /** a manifest JSON (all fields but file/sha256/bytes; those are computed) */
  manifestTemplate?: string;
  task?: ModelManifest['task'];
  /** one label per line; for a detector line k is class index k (include the background line) */
  labelsFile?: string;
  inputName?: string;
  width?: number | null;
  height?: number | null;
  multipleOf?: number;
  scale?: number;
  offset?: number;
  scores?: string;
  boxes?: string;
  logits?: string;
  outputStride?: number;
  license?: string;
  notes?: string;
  force?: boolean;
}

export const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

async function templateBody(opts: ImportOptions): Promise<ManifestBody> {
  if (opts.like && opts.manifestTemplate) throw new ModelError('give either --like or --manifest, not both');
  if (opts.like) {
    const entry = catalogEntry(opts.like);
    if (!entry) throw new ModelError(`--like ${opts.like}: not a catalogued model (known: ${CATALOG.map((e) => e.name).join(', ')})`);
    const b = baseManifest(entry, opts.precision ?? 'fp32');
    return structuredClone(b);
  }
  if (opts.manifestTemplate) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(await readFile(opts.manifestTemplate, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new ModelError(`manifest template ${opts.manifestTemplate} cannot be read as JSON: ${(e as Error).message}`);
    }
    // file/sha256/bytes describe the file being imported, so they are always recomputed
    return { ...json, manifest_version: MANIFEST_VERSION } as unknown as ManifestBody;
  }
  throw new ModelError(
    "a model needs its input preprocessing and output decoding declared: pass --like CATALOG_NAME to reuse a shipped model's contract " +
      `(${CATALOG.map((e) => `${e.name} for ${e.task}`).join(', ')}) or --manifest FILE with every field (see models/README.md)`,
  );
}

/** Validates a user's ONNX against the manifest it will get, then copies both into `<cache>/<name>/`. */
export async function importModel(opts: ImportOptions): Promise<{ manifestPath: string; manifest: ModelManifest; check: ContractCheck }> {
  try {
    const s = await stat(opts.onnx);
    if (!s.isFile()) throw new Error('not a file');
  } catch {
    throw new ModelError(`ONNX file ${opts.onnx} does not exist or is not a file`);
  }
  if (!MODEL_NAME.test(opts.name))
    throw new ModelError(`--name '${opts.name}' must be lowercase letters, digits, '.', '_' or '-' (it becomes a folder in the cache)`);
  const body = await templateBody(opts);
  body.name = opts.name;
  if (opts.precision) body.precision = opts.precision;
  else if (!body.precision) body.precision = 'fp32';
  if (opts.task && body.task && opts.task !== body.task)
    throw new ModelError(`--task ${opts.task} contradicts the template, which is a ${body.task} model`);
  if (opts.task) body.task = opts.task;
  if (opts.labelsFile) body.labels = await readLabels(opts.labelsFile);
  if (body.input) {
    body.input = { ...body.input };
    if (opts.inputName !== undefined) body.input.name = opts.inputName;
    if (opts.width !== undefined) body.input.width = opts.width;
    if (opts.height !== undefined) body.input.height = opts.height;
    if (opts.multipleOf !== undefined) body.input.multiple_of = opts.multipleOf;
    if (opts.scale !== undefined) body.input.scale = opts.scale;
    if (opts.offset !== undefined) body.input.offset = opts.offset;
  }
  if (body.task === 'detection') {
    if (opts.logits || opts.outputStride) throw new ModelError('--logits/--output-stride apply to segmentation models; this is a detection model');
    if (body.detection)
      body.detection = {
        ...body.detection,
        outputs: { scores: opts.scores ?? body.detection.outputs.scores, boxes: opts.boxes ?? body.detection.outputs.boxes },
      };
  } else if (body.task === 'segmentation') {
    if (opts.scores || opts.boxes) throw new ModelError('--scores/--boxes apply to detection models; this is a segmentation model');
    if (body.segmentation)
      body.segmentation = {
        outputs: { logits: opts.logits ?? body.segmentation.outputs.logits },
        output_stride: opts.outputStride ?? body.segmentation.output_stride,
      };
  }
  const sourceSha = await sha256File(opts.onnx);
  body.provenance = {
    source: path.basename(opts.onnx),
    source_sha256: sourceSha,
    ...(opts.license ? { license: opts.license } : {}),
    created_at: new Date().toISOString(),
    notes: opts.notes ?? `imported with edgesight models import${opts.like ? ` --like ${opts.like}` : ''}`,
  };
  // shape check with placeholder file fields, so a bad template is reported before ORT is involved
  checkManifestShape({ ...body, file: 'x.onnx', sha256: sourceSha, bytes: 1 }, `manifest for ${opts.name}`);

  let check: ContractCheck;
  try {
    check = await checkContract(body, opts.onnx);
  } catch (e) {
    const msg = (e as Error).message;
    if (body.task === 'detection' && opts.labelsFile && /labels\]/.test(msg)) {
      throw new ModelError(
        `${msg}\n  (a COCO-style labels file lists classes 1..N: add a 'background' first line if the model's class 0 is background)`,
      );
    }
    throw e;
  }

  const dir = path.join(opts.cacheDir, opts.name);
  const target = path.join(dir, `${body.precision}.json`);
  if (!opts.force) {
    let present = true;
    try {
      await stat(target);
    } catch {
      present = false;
    }
    if (present) throw new ModelError(`${target} already exists; use --force to replace it`);
  }
  const manifestPath = await writeModel(dir, body, opts.onnx);
  const manifest = checkManifestShape(JSON.parse(await readFile(manifestPath, 'utf8')) as unknown, manifestPath);
  return { manifestPath, manifest, check };
}
