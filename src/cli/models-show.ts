import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { listCachedManifests } from '../modeltools/bundle.js';
import { CATALOG } from '../models/catalog.js';
import { checkContract } from '../modeltools/model-import.js';
import { modelInfo, PAPER_FIGURES, type ModelInfo } from '../modeltools/model-info.js';
import { ModelError, readManifest, sha256File, type ModelManifest, type Precision } from '../models/manifest.js';
import { loadModel } from '../models/store.js';
import { MODELS_INFO, MODELS_LIST } from './commands.js';
import { parse, UsageError } from './args.js';
import { mb, modelsContext, short, type CommonValues } from './models-common.js';

interface ListRow {
  name: string;
  precision: Precision;
  task: string;
  bytes: number | null;
  sha256: string | null;
  manifest: string;
  status: 'verified' | 'unchecked' | 'error';
  error?: string;
}

export async function listSub(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, MODELS_LIST.options);
  if (positionals.length) throw new UsageError('list takes no positional arguments');
  const { ctx } = modelsContext(values as CommonValues);
  const rows: ListRow[] = [];
  for (const c of await listCachedManifests(ctx.cacheDir)) {
    const row: ListRow = {
      name: c.name,
      precision: c.precision,
      task: '?',
      bytes: null,
      sha256: null,
      manifest: c.manifestPath,
      status: 'unchecked',
    };
    try {
      const m = await readManifest(c.manifestPath);
      Object.assign(row, { task: m.task, bytes: m.bytes, sha256: m.sha256 });
      if (!values['no-verify']) {
        await loadModel(c.manifestPath);
        row.status = 'verified';
      }
    } catch (e) {
      row.status = 'error';
      row.error = (e as Error).message;
    }
    rows.push(row);
  }
  const sources: Array<{ file: string; bytes: number }> = [];
  try {
    for (const f of await readdir(path.join(ctx.cacheDir, 'sources'))) {
      if (!f.endsWith('.part')) sources.push({ file: f, bytes: statSync(path.join(ctx.cacheDir, 'sources', f)).size });
    }
  } catch {
    // no sources fetched yet
  }
  const notPrepared = CATALOG.filter((e) => !rows.some((r) => r.name === e.name)).map((e) => e.name);
  const bad = rows.filter((r) => r.status === 'error').length;
  if (values.json) {
    process.stdout.write(JSON.stringify({ cache_dir: ctx.cacheDir, models: rows, sources, not_prepared: notPrepared }, null, 2) + '\n');
    return bad ? 1 : 0;
  }
  process.stdout.write(`cache: ${ctx.cacheDir}\n`);
  if (!rows.length) process.stdout.write('  (no prepared models; run `edgesight models fetch`)\n');
  else {
    process.stdout.write(
      `  ${'NAME'.padEnd(34)} ${'PRECISION'.padEnd(12)} ${'TASK'.padEnd(12)} ${'SIZE'.padStart(8)}  ${'SHA256'.padEnd(12)}  STATUS\n`,
    );
    for (const r of rows) {
      process.stdout.write(
        `  ${r.name.padEnd(34)} ${r.precision.padEnd(12)} ${r.task.padEnd(12)} ${(r.bytes === null ? '?' : mb(r.bytes)).padStart(8)}  ${(r.sha256 ? short(r.sha256) : '?').padEnd(12)}  ${r.status}\n`,
      );
      if (r.error) process.stdout.write(`      ${r.error.replace(/\n/g, '\n      ')}\n`);
    }
  }
  if (sources.length) process.stdout.write(`sources: ${sources.map((s) => `${s.file} (${mb(s.bytes)})`).join(', ')}\n`);
  if (notPrepared.length) process.stdout.write(`catalogued, not prepared: ${notPrepared.join(', ')} (edgesight models fetch NAME)\n`);
  return bad ? 1 : 0;
}

interface PaperFigure {
  label: string;
  params: number;
  madds: number;
  /** the input size the paper's MAdds are for */
  size: [number, number];
}

/** Published figures for the catalogued models (see PAPER_FIGURES in src/modeltools/model-info.ts for sources). */
function paperFor(name: string): PaperFigure | null {
  if (name === 'ssdlite_mobilenet_v3_small_coco') {
    return {
      label: 'SSDLite MobileNetV3-Small (reduced head), Howard et al. 2019, Table 6',
      ...PAPER_FIGURES.ssdliteV3SmallReduced,
      size: [320, 320],
    };
  }
  if (name === 'lraspp_mobilenet_v3_small_voc')
    return { label: 'LR-ASPP MobileNetV3-Small VOC, model card', ...PAPER_FIGURES.lrasppV3SmallVoc320, size: [320, 320] };
  return null;
}

function parseSize(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/i.exec(s);
  if (!m) throw new UsageError(`--size must be WxH (e.g. 320x240), got ${s}`);
  return [Number(m[1]), Number(m[2])];
}

function fmt(n: number, unit: 'M' | 'G'): string {
  return unit === 'M' ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e9).toFixed(3)} G`;
}

interface Resolved {
  file: string;
  manifest: ModelManifest | null;
  manifestPath: string | null;
  verified: boolean;
}

async function resolve(ref: string, precision: Precision, cacheDir: string): Promise<Resolved> {
  if (existsSync(ref) && statSync(ref).isFile()) {
    if (ref.endsWith('.json')) {
      const l = await loadModel(ref);
      return { file: l.file, manifest: l.manifest, manifestPath: ref, verified: true };
    }
    const head = (await readFile(ref)).subarray(0, 8);
    if (head.toString('latin1', 4, 8) === 'TFL3')
      throw new UsageError(`${ref} is a TFLite file; convert it first (edgesight models convert ${ref} --out X.onnx)`);
    return { file: ref, manifest: null, manifestPath: null, verified: false };
  }
  if (ref.includes('/') || ref.endsWith('.json') || ref.endsWith('.onnx')) throw new ModelError(`${ref}: no such file`);
  const mpath = path.join(cacheDir, ref, `${precision}.json`);
  if (!existsSync(mpath)) {
    const have = (await listCachedManifests(cacheDir)).filter((c) => c.name === ref).map((c) => c.precision);
    throw new ModelError(
      have.length
        ? `${ref} is not prepared at ${precision} in ${cacheDir} (prepared: ${have.join(', ')}; pass --precision)`
        : CATALOG.some((e) => e.name === ref)
          ? `${ref} is not prepared in ${cacheDir}; run \`edgesight models fetch ${ref}\``
          : `no model named '${ref}' in ${cacheDir} and none in the catalog (see \`edgesight models list\`)`,
    );
  }
  const l = await loadModel(mpath);
  return { file: l.file, manifest: l.manifest, manifestPath: mpath, verified: true };
}

export async function infoSub(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, MODELS_INFO.options);
  if (positionals.length !== 1) throw new UsageError('info needs exactly one NAME, MANIFEST.json or FILE.onnx');
  const { lc, ctx } = modelsContext(values as CommonValues);
  const precision = (values.precision ?? lc.config.models.precision) as Precision;
  if (!['fp32', 'int8', 'qdq-faithful'].includes(precision)) throw new UsageError(`--precision must be fp32, int8 or qdq-faithful, got ${precision}`);
  const r = await resolve(positionals[0]!, precision, ctx.cacheDir);
  const m = r.manifest;

  let size: [number, number] | null = values.size ? parseSize(values.size) : null;
  if (!size && m) size = [m.input.width ?? 320, m.input.height ?? 320];
  const bytes = await readFile(r.file);
  let info: ModelInfo;
  try {
    info = modelInfo(bytes, size ? { inputShapes: { [m?.input.name ?? (await firstInput(bytes))]: [1, 3, size[1], size[0]] } } : {});
  } catch (e) {
    throw new ModelError(`cannot analyse ${r.file}: ${(e as Error).message}${size ? '' : ' (pass --size WxH for a model with a dynamic input)'}`);
  }
  const paper = m ? paperFor(m.name) : null;
  const analysed = info.inputs[0]?.shape ?? [];
  const sameSize = paper !== null && analysed[2] === paper.size[1] && analysed[3] === paper.size[0];
  const contract = values.check && m ? await checkContract(m, r.file) : null;
  const sha = m?.sha256 ?? (await sha256File(r.file));

  if (values.json) {
    process.stdout.write(
      JSON.stringify(
        {
          file: r.file,
          manifest: r.manifestPath,
          name: m?.name ?? null,
          task: m?.task ?? null,
          precision: m?.precision ?? null,
          bytes: bytes.length,
          sha256: sha,
          verified: r.verified,
          ...info,
          paper: paper ? { label: paper.label, params: paper.params, madds: sameSize ? paper.madds : null, size: paper.size } : null,
          contract,
          provenance: m?.provenance ?? null,
        },
        null,
        2,
      ) + '\n',
    );
    return 0;
  }
  const lines: string[] = [];
  const row = (k: string, v: string): void => void lines.push(`${k.padEnd(12)} ${v}`);
  if (m) row('model', `${m.name} (${m.precision}, ${m.task}, ${m.labels.length} labels)`);
  row('file', `${r.file}  ${mb(bytes.length)}  sha256 ${short(sha)}${r.verified ? ' (matches manifest)' : ''}`);
  for (const t of info.inputs)
    row('input', `${t.name} ${t.dtype} [${t.shape.join(', ')}]${t.declared ? ` (declared [${t.declared.map((d) => d ?? '?').join(', ')}])` : ''}`);
  if (m)
    row(
      'preprocess',
      `${m.input.color} × ${m.input.scale.toPrecision(6)} + ${m.input.offset}, ${m.input.layout}, resize ${m.input.resize}${m.input.multiple_of ? `, sides multiple of ${m.input.multiple_of}` : ''}`,
    );
  for (const t of info.outputs) row('output', `${t.name} ${t.dtype} [${t.shape.join(', ')}]`);
  row('params', `${fmt(info.params, 'M')}${paper ? `    paper: ${fmt(paper.params, 'M')}` : ''}`);
  row(
    'MAdds',
    `${fmt(info.macs, 'G')} at ${analysed[3]}×${analysed[2]}${paper ? (sameSize ? `    paper: ${fmt(paper.madds, 'G')}` : `    (paper: ${fmt(paper.madds, 'G')} at ${paper.size[0]}×${paper.size[1]})`) : ''}`,
  );
  if (paper) row('', `paper figures: ${paper.label}`);
  row('int8 share', `${(info.int8OpShare * 100).toFixed(1)}% of ${info.computeOps} compute ops, ${(info.int8MacShare * 100).toFixed(1)}% of MAdds`);
  const ops = Object.entries(info.opCounts).sort((a, b) => b[1] - a[1]);
  row('ops', `${ops.reduce((n, [, c]) => n + c, 0)} nodes: ${ops.map(([k, c]) => `${k} ${c}`).join(', ')}`);
  if (m?.task === 'detection' && m.detection)
    row(
      'decoding',
      `${m.detection.num_anchors} SSD anchors, ${m.detection.box_coder.type} box coder (${m.detection.box_coder.scales.join(', ')}), scores ${m.detection.score_activation === 'none' ? 'already sigmoid' : 'sigmoid applied'}`,
    );
  if (m?.task === 'segmentation' && m.segmentation)
    row('decoding', `argmax of '${m.segmentation.outputs.logits}' at 1/${m.segmentation.output_stride}`);
  if (m)
    row(
      'provenance',
      `${m.provenance.source}${m.provenance.license ? `; ${m.provenance.license}` : ''}${m.provenance.converter ? `; ${m.provenance.converter}` : ''}`,
    );
  if (contract) row('contract', `ok in ONNX Runtime at ${contract.probe.width}×${contract.probe.height}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

async function firstInput(bytes: Uint8Array): Promise<string> {
  const { loadOnnx } = await import('../modeltools/onnx/io.js');
  const g = loadOnnx(bytes);
  const inits = new Set(g.initializers.map((t) => t.name));
  const v = g.inputs.find((i) => !inits.has(i.name));
  if (!v) throw new ModelError('the model has no inputs');
  return v.name;
}
