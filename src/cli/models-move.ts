import path from 'node:path';
import { exportBundle, importBundle, looksLikeBundle } from '../modeltools/bundle.js';
import { importModel, type ContractCheck, type ImportOptions } from '../modeltools/model-import.js';
import type { ModelManifest, Precision } from '../models/manifest.js';
import { VERSION } from '../service/version.js';
import { MODELS_EXPORT, MODELS_IMPORT, MODELS_IMPORT_BUNDLE } from './commands.js';
import { parse, UsageError } from './args.js';
import { COMMON_OPTIONS, mb, modelsContext, say, short, type CommonValues } from './models-common.js';

export { IMPORT_OPTIONS } from './commands.js';
import { IMPORT_OPTIONS } from './commands.js';

type ImportValues = { [K in keyof typeof IMPORT_OPTIONS]?: (typeof IMPORT_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

function num(flag: string, v: string | undefined, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && (!Number.isInteger(n) || n < 1))) {
    throw new UsageError(`--${flag} must be ${integer ? 'a positive integer' : 'a number'}, got '${v}'`);
  }
  return n;
}

function dim(flag: string, v: string | undefined): number | null | undefined {
  if (v === 'dynamic') return null;
  return num(flag, v, true);
}

export function importOptionsFrom(values: ImportValues, onnx: string, cacheDir: string): ImportOptions {
  if (values.task !== undefined && values.task !== 'detection' && values.task !== 'segmentation')
    throw new UsageError(`--task must be detection or segmentation, got ${values.task}`);
  const precisions: Precision[] = ['fp32', 'int8', 'qdq-faithful'];
  if (values.precision !== undefined && !precisions.includes(values.precision as Precision))
    throw new UsageError(`--precision must be one of ${precisions.join(', ')}, got ${values.precision}`);
  const name =
    values.name ??
    path
      .basename(onnx)
      .replace(/\.(onnx|tflite)$/i, '')
      .toLowerCase();
  const o: ImportOptions = { onnx, name, cacheDir, force: values.force ?? false };
  const set = <K extends keyof ImportOptions>(k: K, v: ImportOptions[K] | undefined): void => {
    if (v !== undefined) o[k] = v;
  };
  set('like', values.like);
  set('manifestTemplate', values.manifest);
  set('task', values.task as ImportOptions['task']);
  set('labelsFile', values.labels);
  set('precision', values.precision as Precision | undefined);
  set('inputName', values['input-name']);
  set('width', dim('width', values.width));
  set('height', dim('height', values.height));
  set('multipleOf', num('multiple-of', values['multiple-of'], true));
  set('scale', num('scale', values.scale, false));
  set('offset', num('offset', values.offset, false));
  set('scores', values.scores);
  set('boxes', values.boxes);
  set('logits', values.logits);
  set('outputStride', num('output-stride', values['output-stride'], true));
  set('license', values.license);
  set('notes', values.notes);
  return o;
}

export function reportImport(res: { manifestPath: string; manifest: ModelManifest; check: ContractCheck }): void {
  const m = res.manifest;
  const outs = Object.entries(res.check.outputs)
    .map(([k, v]) => `${k} [${v.join(', ')}]`)
    .join(', ');
  process.stdout.write(
    `registered ${m.name} ${m.precision} (${m.task}, ${m.labels.length} labels, ${mb(m.bytes)}, sha256 ${short(m.sha256)})\n` +
      `  checked in ONNX Runtime at ${res.check.probe.width}×${res.check.probe.height}: ${outs}\n` +
      `  manifest: ${res.manifestPath}\n` +
      `  use it: models.${m.task === 'detection' ? 'detector' : 'segmenter'}: ${m.name}${m.precision === 'fp32' ? '' : ` (with models.precision: ${m.precision})`}\n`,
  );
}

export async function importSub(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, MODELS_IMPORT.options);
  if (positionals.length !== 1) throw new UsageError('import needs exactly one ONNX file or bundle');
  const file = positionals[0]!;
  let bundle: boolean;
  try {
    bundle = await looksLikeBundle(file);
  } catch (e) {
    throw new UsageError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (bundle) {
    const extra = Object.keys(values).filter((k) => !(k in COMMON_OPTIONS) && k !== 'force');
    if (extra.length) throw new UsageError(`${file} is a bundle; ${extra.map((k) => `--${k}`).join(', ')} apply to a single ONNX import`);
    return importBundleSub(argv);
  }
  const { ctx } = modelsContext(values as CommonValues);
  reportImport(await importModel(importOptionsFrom(values, file, ctx.cacheDir)));
  return 0;
}

export async function importBundleSub(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, MODELS_IMPORT_BUNDLE.options);
  if (positionals.length !== 1) throw new UsageError('import-bundle needs exactly one bundle file');
  const { ctx } = modelsContext(values as CommonValues);
  say(`importing ${positionals[0]} into ${ctx.cacheDir}`);
  const res = await importBundle(positionals[0]!, ctx.cacheDir, { force: values.force ?? false });
  for (const r of res) process.stdout.write(`${r.status.padEnd(10)} ${r.name.padEnd(34)} ${r.precision.padEnd(12)} ${r.manifestPath}\n`);
  return 0;
}

export async function exportBundleSub(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, MODELS_EXPORT.options);
  const [out, ...names] = positionals;
  if (!out) throw new UsageError('export needs an output file (OUT.tar or OUT.tar.gz)');
  const precisions = (values.precision ?? []) as Precision[];
  for (const p of precisions)
    if (!['fp32', 'int8', 'qdq-faithful'].includes(p)) throw new UsageError(`--precision must be fp32, int8 or qdq-faithful, got ${p}`);
  const { ctx } = modelsContext(values as CommonValues);
  const index = await exportBundle(ctx.cacheDir, out, {
    names,
    precisions,
    producer: `edgesight ${VERSION}`,
    ...(values.gzip ? { gzip: true } : {}),
  });
  for (const m of index.models) {
    const f = index.files.find((x) => x.path === m.file)!;
    process.stdout.write(`added  ${m.name.padEnd(34)} ${m.precision.padEnd(12)} ${mb(f.bytes).padStart(8)}  ${short(f.sha256)}\n`);
  }
  process.stdout.write(
    `wrote ${out} (${index.models.length} model${index.models.length === 1 ? '' : 's'}); on the target: edgesight models import ${path.basename(out)}\n`,
  );
  return 0;
}
