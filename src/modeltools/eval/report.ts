/**
 * `npm run models:report` — the README "int8 models" table, from the models as the product prepares them
 * (float, the faithful QDQ conversion of the upstream int8 TFLite, and our int8 with both activation
 * types): file size, params, MAdds, x86 latency vs fp32 (interleaved, this run), ARM instructions per
 * inference on Cortex-A72/A76 (the last `npm run bench:arm64`), and accuracy (detector mAP/AP50 on the
 * 80 COCO sample photos; segmenter argmax agreement and mIoU against float on the VOC sample photos).
 * The evaluation photos come from --data, else EDGESIGHT_TEST_DATA (a folder holding coco-train-sample/ and
 * voc-masks-train-sample/); the models from the package's own sources.
 * Markdown on stdout, everything as JSON in --json (default .cache/models-report.json).
 *
 *   node dist/src/modeltools/eval/report.js [--data DIR] [--cache DIR] [--insn FILE] [--json FILE] [--rounds N]
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { mirrorsFromEnv } from '../../models/fetch.js';
import { modelInfo } from '../model-info.js';
import { packageRoot } from '../../models/paths.js';
import { calibrationInputs } from '../quantize/calibration.js';
import { activationTypeFor } from '../quantize/manifest-quantizer.js';
import type { LoadedModel, PrepareContext } from '../../models/store.js';
import { tfliteConverter } from '../convert.js';
import { loadCocoInstances } from './dataset.js';
import { evalModel, prepareEvalModels } from './eval-models.js';
import { evaluateDetector, latencyRatio, segmentationAgreement } from './evaluate.js';

export interface ReportRow {
  model: 'detector' | 'segmenter';
  variant: string;
  /** the insn.json case name for this variant */
  armCase: string;
  file_mb: number;
  params: number;
  madds: number;
  /** median latency / fp32 median latency, interleaved runs, one thread */
  x86_latency_ratio: number;
  x86_ms: number;
  /** fp32's median in the same interleaved pair */
  x86_fp32_ms: number;
  arm_insn: Record<'cortex-a72' | 'cortex-a76', number | null>;
  accuracy: Record<string, number>;
  quantization: Record<string, unknown> | null;
}

const ARM_CPUS = ['cortex-a72', 'cortex-a76'] as const;

function readInsn(file: string): { perCpu: Record<string, Record<string, { perInference: number }>>; created_at?: string } | null {
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as { perCpu: Record<string, Record<string, { perInference: number }>>; created_at?: string };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { data: { type: 'string' }, cache: { type: 'string' }, insn: { type: 'string' }, json: { type: 'string' }, rounds: { type: 'string' } },
  });
  const root = packageRoot();
  const dataArg = values.data ?? process.env.EDGESIGHT_TEST_DATA;
  if (!dataArg)
    throw new Error(
      'the evaluation data is not here: pass --data DIR or set EDGESIGHT_TEST_DATA (a folder with coco-train-sample/ and voc-masks-train-sample/)',
    );
  const data = path.resolve(dataArg);
  const cacheRoot = path.resolve(values.cache ?? path.join(os.tmpdir(), 'edgesight-models-report'));
  const insnFile = path.resolve(values.insn ?? path.join(process.env.EDGESIGHT_ARM64_OUT ?? path.join(root, '.cache/arm64/out'), 'insn.json'));
  const jsonOut = path.resolve(values.json ?? path.join(root, '.cache', 'models-report.json'));
  const rounds = Number(values.rounds ?? 40);
  if (!Number.isInteger(rounds) || rounds < 4) throw new Error(`--rounds must be an integer ≥ 4, got '${values.rounds}'`);
  for (const need of [path.join(data, 'coco-train-sample/instances.json'), path.join(data, 'voc-masks-train-sample')]) {
    if (!existsSync(need)) throw new Error(`${need} is missing: pass --data DIR (a folder with coco-train-sample/ and voc-masks-train-sample/)`);
  }
  const log = (m: string): void => void process.stderr.write(`${m}\n`);
  const ctxFor = (act: string): PrepareContext => ({
    converter: tfliteConverter,
    cacheDir: path.join(cacheRoot, act),
    mirrors: mirrorsFromEnv(process.env),
    allowNetwork: false,
    log,
  });

  // our int8 with both activation types (each in its own cache: a cache holds one int8 per model)
  log(`preparing models in ${cacheRoot} (shipped calibration set)`);
  const u = await prepareEvalModels(ctxFor('uint8'), 'uint8');
  const s = await prepareEvalModels(ctxFor('int8'), 'int8');
  const insn = readInsn(insnFile);

  const rows: ReportRow[] = [];
  const add = (
    model: ReportRow['model'],
    variant: string,
    armCase: string,
    lm: LoadedModel,
    shape: number[] | undefined,
    lat: { ratio: number; ms: number; fp32Ms: number },
    accuracy: Record<string, number>,
  ): void => {
    const bytes = readFileSync(lm.file);
    const info = modelInfo(bytes, shape ? { inputShapes: { [lm.manifest.input.name]: shape } } : {});
    rows.push({
      model,
      variant,
      armCase,
      file_mb: statSync(lm.file).size / 1e6,
      params: info.params,
      madds: info.macs,
      x86_latency_ratio: lat.ratio,
      x86_ms: lat.ms,
      x86_fp32_ms: lat.fp32Ms,
      arm_insn: Object.fromEntries(ARM_CPUS.map((c) => [c, insn?.perCpu[c]?.[armCase]?.perInference ?? null])) as ReportRow['arm_insn'],
      accuracy,
      quantization: (lm.manifest.provenance.quantization as Record<string, unknown> | undefined) ?? null,
    });
  };

  // the fp32 row's time: the median of its medians over the pairs it ran in
  let fp32Ms: number[] = [];
  const setFp32Ms = (model: ReportRow['model']): void => {
    const r = rows.find((q) => q.model === model && q.variant.startsWith('fp32'))!;
    r.x86_ms = r.x86_fp32_ms = [...fp32Ms].sort((a, b) => a - b)[Math.floor(fp32Ms.length / 2)] ?? 0;
    fp32Ms = [];
  };

  // detector
  const ds = loadCocoInstances(path.join(data, 'coco-train-sample/instances.json'));
  const detIn = u.detector.fp32.manifest.input;
  const x = (await calibrationInputs([path.join(data, 'photos/astronaut.png')], detIn, 320, 320).next()).value as Float32Array;
  const det = [
    ['fp32 (float)', 'detector fp32 (ours, converted)', u.detector.fp32],
    ['faithful QDQ (upstream int8 TFLite, uint8 act.)', 'detector QDQ uint8 act (faithful)', u.detector['qdq-faithful']],
    ['our int8, uint8 act.', 'detector int8, uint8 act (ours)', u.detector.int8],
    ['our int8, int8 act.', 'detector int8, int8 act (ours)', s.detector.int8],
  ] as const;
  let fp32Map = 0;
  for (const [variant, armCase, lm] of det) {
    log(`detector ${variant}: mAP on ${ds.images.length} photos, latency vs fp32`);
    const r = (await evaluateDetector(evalModel(lm), ds, { scoreThreshold: 0.02 })).result;
    if (lm === u.detector.fp32) fp32Map = r.map;
    const lat = lm === u.detector.fp32 ? null : await latencyRatio(u.detector.fp32.file, lm.file, detIn.name, x, [1, 3, 320, 320], rounds);
    add(
      'detector',
      variant,
      armCase,
      lm,
      undefined,
      { ratio: lat?.ratio ?? 1, ms: lat?.bMs ?? 0, fp32Ms: lat?.aMs ?? 0 },
      { map: r.map, ap50: r.ap50, map_vs_fp32: fp32Map ? r.map / fp32Map : 1 },
    );
    if (lat) fp32Ms.push(lat.aMs);
  }
  setFp32Ms('detector');

  // segmenter at the daemon's default 320×240
  const segFiles = readdirSync(path.join(data, 'voc-masks-train-sample'))
    .filter((f) => f.endsWith('.png'))
    .map((f) => path.join(data, 'coco-train-sample', f.replace(/\.png$/, '.jpg')));
  const segIn = u.segmenter.fp32.manifest.input;
  const sx = (await calibrationInputs([segFiles[0]!], segIn, 320, 240).next()).value as Float32Array;
  const seg = [
    ['fp32 (float)', 'segmenter fp32 320×240', u.segmenter.fp32],
    ['our int8, uint8 act.', 'segmenter int8, uint8 act (ours) 320×240', u.segmenter.int8],
    ['our int8, int8 act.', 'segmenter int8, int8 act (ours) 320×240', s.segmenter.int8],
  ] as const;
  for (const [variant, armCase, lm] of seg) {
    log(`segmenter ${variant}: agreement with float on ${segFiles.length} photos, latency vs fp32`);
    const a =
      lm === u.segmenter.fp32
        ? { pixelAgreement: 1, miou: 1 }
        : await segmentationAgreement(evalModel(u.segmenter.fp32), evalModel(lm), segFiles, 320, 240);
    const lat = lm === u.segmenter.fp32 ? null : await latencyRatio(u.segmenter.fp32.file, lm.file, segIn.name, sx, [1, 3, 240, 320], rounds);
    add(
      'segmenter',
      variant,
      armCase,
      lm,
      [1, 3, 240, 320],
      { ratio: lat?.ratio ?? 1, ms: lat?.bMs ?? 0, fp32Ms: lat?.aMs ?? 0 },
      { pixel_agreement: a.pixelAgreement, miou_vs_fp32: a.miou },
    );
    if (lat) fp32Ms.push(lat.aMs);
  }
  setFp32Ms('segmenter');

  const M = (n: number | null): string => (n === null ? '—' : `${(n / 1e6).toFixed(1)} M`);
  const armRef = (r: ReportRow, c: (typeof ARM_CPUS)[number]): string => {
    const fp = rows.find((q) => q.model === r.model && q.variant.startsWith('fp32'))?.arm_insn[c] ?? null;
    const n = r.arm_insn[c];
    return n === null ? '—' : fp && r.variant.startsWith('fp32') ? M(n) : `${M(n)}${fp ? ` (${(n / fp).toFixed(2)}×)` : ''}`;
  };
  const acc = (r: ReportRow): string =>
    r.model === 'detector'
      ? `mAP ${r.accuracy.map!.toFixed(3)}${r.variant.startsWith('fp32') ? '' : ` (${(r.accuracy.map_vs_fp32! * 100).toFixed(1)}% of fp32)`}, AP50 ${r.accuracy.ap50!.toFixed(3)}`
      : r.variant.startsWith('fp32')
        ? 'reference'
        : `pixel agreement ${(r.accuracy.pixel_agreement! * 100).toFixed(1)}%, mIoU vs fp32 ${r.accuracy.miou_vs_fp32!.toFixed(3)}`;
  const chosen = activationTypeFor('auto');
  const lines = [
    `| model | variant | file MB | params | MAdds | x86 latency vs fp32 | ARM insn A72 | ARM insn A76 | accuracy |`,
    `|---|---|---|---|---|---|---|---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.model === 'detector' ? 'SSDLite MobileNetV3-Small 320×320' : 'LR-ASPP MobileNetV3-Small 320×240'} | ${r.variant}${r.variant.includes(`${chosen} act.`) && r.variant.startsWith('our') ? ` **(default on ${process.arch})**` : ''} | ${r.file_mb.toFixed(2)} | ${(r.params / 1e6).toFixed(2)} M | ${(r.madds / 1e6).toFixed(0)} M | ${r.variant.startsWith('fp32') ? `1 (${r.x86_ms.toFixed(1)} ms)` : `${r.x86_latency_ratio.toFixed(2)} (${r.x86_ms.toFixed(1)} vs ${r.x86_fp32_ms.toFixed(1)} ms)`} | ${armRef(r, 'cortex-a72')} | ${armRef(r, 'cortex-a76')} | ${acc(r)} |`,
    ),
    '',
    `x86: ${os.cpus()[0]?.model ?? 'unknown CPU'}, one ORT thread, medians of ${rounds} interleaved runs against fp32 in this run. ` +
      (insn
        ? `ARM: guest instructions per inference under qemu (arm-insn plugin), from ${path.relative(process.cwd(), insnFile) || insnFile}${insn.created_at ? ` (${insn.created_at})` : ''}.`
        : `ARM: no instruction counts at ${insnFile} — run \`npm run bench:arm64\`.`),
    `Calibration: the shipped set (models/calibration: 40 vtest frames + config/demo-photos: 5 photos), none of it in the evaluation photos.`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  mkdirSync(path.dirname(jsonOut), { recursive: true });
  writeFileSync(
    jsonOut,
    JSON.stringify(
      { created_at: new Date().toISOString(), arch: process.arch, cpu: os.cpus()[0]?.model, rounds, insn_file: insn ? insnFile : null, rows },
      null,
      2,
    ) + '\n',
  );
  log(`wrote ${jsonOut}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`models:report: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
