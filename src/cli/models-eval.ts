import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { catalogEntry } from '../models/catalog.js';
import { loadCocoInstances } from '../modeltools/eval/dataset.js';
import { evaluateDetector } from '../modeltools/eval/evaluate.js';
import { DEFAULT_SCORE_THRESHOLDS, thresholdTable, type ThresholdRow } from '../modeltools/eval/thresholds.js';
import { ModelError, type Precision } from '../models/manifest.js';
import { isManifestPath, loadModel, prepareModel, type LoadedModel } from '../models/store.js';
import { configuredQuantizer } from '../modeltools/quantize/configured-quantizer.js';
import { parse, UsageError } from './args.js';
import { MODELS_EVAL } from './commands.js';
import { modelsContext, say, type CommonValues } from './models-common.js';

function numberList(v: string, what: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !(x >= 0 && x <= 1))) throw new UsageError(`${what} must be comma-separated numbers in [0, 1], got '${v}'`);
  return [...new Set(xs)].sort((a, b) => a - b);
}

/** The COCO folder: --data, else EDGESIGHT_TEST_DATA's coco-train-sample. */
export function evalDataDir(data: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (data) return path.resolve(data);
  const root = env.EDGESIGHT_TEST_DATA;
  if (!root)
    throw new UsageError(
      'no evaluation data: pass --data DIR (a folder with instances.json), or set EDGESIGHT_TEST_DATA (its coco-train-sample/ is used)',
    );
  return path.resolve(root, 'coco-train-sample');
}

const pct = (v: number | null): string => (v === null ? '—' : `${(v * 100).toFixed(1)}%`);

/** `edgesight models eval ...`; returns the exit status. */
export async function evalSub(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, MODELS_EVAL.options);
  if (positionals.length > 1) throw new UsageError('eval takes at most one model NAME or manifest path');
  const thresholds = values.thresholds ? numberList(values.thresholds, '--thresholds') : DEFAULT_SCORE_THRESHOLDS;
  const iou = values.iou !== undefined ? Number(values.iou) : 0.5;
  if (!(iou > 0 && iou <= 1)) throw new UsageError(`--iou must be in (0, 1], got '${values.iou}'`);
  const dir = evalDataDir(values.data);
  const instances = path.join(dir, 'instances.json');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--data ${dir}: no such folder`);
  if (!existsSync(instances)) throw new UsageError(`${dir} has no instances.json (a COCO-format folder: instances.json beside its images)`);

  const { lc, ctx } = modelsContext(values as CommonValues);
  const precision = (values.precision ?? lc.config.models.precision) as Precision;
  if (precision !== 'int8' && precision !== 'fp32') throw new UsageError(`--precision must be int8 or fp32, got '${values.precision}'`);
  const ref = positionals[0] ?? lc.config.models.detector;
  let model: LoadedModel;
  if (isManifestPath(ref)) model = await loadModel(path.resolve(ref), 'detection');
  else {
    if (!catalogEntry(ref)) throw new ModelError(`unknown model '${ref}': not in the catalog and not a manifest path (edgesight models list)`);
    model = await loadModel(await prepareModel(ref, precision, ctx, precision === 'int8' ? configuredQuantizer(lc) : undefined), 'detection');
  }
  const m = model.manifest;
  if (!m.detection) throw new ModelError(`${model.manifestPath}: not a detection model`);

  const ds = loadCocoInstances(instances);
  for (const im of ds.images) if (!existsSync(im.file)) throw new ModelError(`${instances} names ${path.basename(im.file)}, which is not in ${dir}`);
  say(`evaluating ${m.name} ${m.precision} on ${ds.images.length} images in ${dir}`);
  const low = Math.min(0.02, thresholds[0]!);
  const ev = await evaluateDetector({ file: model.file, input: m.input, labels: m.labels, detection: m.detection }, ds, {
    scoreThreshold: low,
    threads: lc.config.inference.threads,
  });
  const dets = [...ev.detections.entries()].flatMap(([imageId, list]) => {
    const im = ds.images.find((i) => i.id === imageId)!;
    return list.map((d) => ({
      imageId,
      categoryId: d.class_id,
      score: d.score,
      bbox: [d.box[0] * im.width, d.box[1] * im.height, (d.box[2] - d.box[0]) * im.width, (d.box[3] - d.box[1]) * im.height] as [
        number,
        number,
        number,
        number,
      ],
    }));
  });
  const labelOf = (c: number): string => m.labels[c] ?? ds.categories.get(c) ?? String(c);
  const wanted = values.json ? null : (values.labels ?? 'person,car').split(',').map((s) => s.trim());
  let cats: number[] | undefined;
  if (wanted) {
    cats = wanted.map((l) => {
      const i = m.labels.indexOf(l);
      if (i < 0) throw new UsageError(`--labels: '${l}' is not a label of ${m.name}`);
      return i;
    });
  }
  const rows = thresholdTable(ds.groundTruth, dets, { thresholds, iou, ...(cats ? { categories: cats } : {}) });
  let maxScore = 0;
  for (const d of dets) maxScore = Math.max(maxScore, d.score);
  const summary = {
    model: m.name,
    precision: m.precision,
    sha256: m.sha256,
    images: ds.images.length,
    map: ev.result.map,
    ap50: ev.result.ap50,
    max_score: maxScore,
    iou,
  };

  if (values.json) {
    for (const r of rows) {
      process.stdout.write(
        JSON.stringify({
          label: labelOf(r.categoryId),
          class_id: r.categoryId,
          threshold: r.threshold,
          precision: r.precision,
          recall: r.recall,
          detections: r.detections,
          true_positives: r.truePositives,
          ground_truth: r.groundTruth,
        }) + '\n',
      );
    }
    process.stdout.write(JSON.stringify({ summary }) + '\n');
    return 0;
  }
  process.stdout.write(formatThresholdTable(rows, labelOf, thresholds));
  process.stdout.write(
    `\n${m.name} ${m.precision} on ${ds.images.length} images: mAP@[.5:.95] ${ev.result.map.toFixed(4)}, AP50 ${ev.result.ap50.toFixed(4)}, highest score ${maxScore.toFixed(3)}\n`,
  );
  return 0;
}

/** Markdown table: one row per threshold, precision / recall (true positives of ground truth) per label. */
export function formatThresholdTable(rows: ThresholdRow[], labelOf: (c: number) => string, thresholds: number[]): string {
  const cats = [...new Set(rows.map((r) => r.categoryId))];
  const head = `| min_score | ${cats.map((c) => `${labelOf(c)} precision | ${labelOf(c)} recall`).join(' | ')} |`;
  const sep = `|---|${cats.map(() => '---|---').join('|')}|`;
  const lines = thresholds.map((t) => {
    const cells = cats.map((c) => {
      const r = rows.find((x) => x.categoryId === c && x.threshold === t)!;
      return `${pct(r.precision)} | ${pct(r.recall)} (${r.truePositives}/${r.groundTruth})`;
    });
    return `| ${t.toFixed(2)} | ${cells.join(' | ')} |`;
  });
  return [head, sep, ...lines].join('\n') + '\n';
}
