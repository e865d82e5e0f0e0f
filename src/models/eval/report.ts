/**
 * Issue-4 measurement table: quantizes the detector and the segmenter with their catalog profiles, then
 * prints model, precision, file size, params, MAdds, x86 latency ratio vs fp32 and accuracy (mAP/AP50 on
 * the COCO sample, or argmax agreement with float). Reads the shared data folder (read-only).
 *
 *   node dist/src/models/eval/report.js [--data /work/shared/data] [--models /work/shared/models] [--json FILE]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { catalogEntry, loadCatalogLabels } from '../catalog.js';
import { convertTflite } from '../convert.js';
import { modelInfo } from '../info.js';
import { calibrationInputs, extractVideoFrames, listCalibrationImages } from '../quantize/calibration.js';
import { profileFor } from '../quantize/profiles.js';
import { quantizeModel } from '../quantize/quantize.js';
import { loadCocoInstances } from './dataset.js';
import { evaluateDetector, latencyRatio, segmentationAgreement, type EvalModel } from './run.js';

interface Row {
  model: string;
  precision: string;
  mb: number;
  params: number;
  madds: number;
  latencyRatio: number | null;
  accuracy: string;
  quantSeconds: number | null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { data: { type: 'string' }, models: { type: 'string' }, json: { type: 'string' } } });
  const data = values.data ?? '/work/shared/data';
  const models = values.models ?? '/work/shared/models';
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'edgesight-report-'));
  try {
    const frames: string[] = [];
    for (const v of ['vtest_first20s_384x288_mjpeg.avi', 'one-by-one-person-detection.mp4', 'car-detection.mp4', 'bottle-detection.mp4']) {
      frames.push(...(await extractVideoFrames(path.join(data, 'video', v), tmp, { step: 40, max: 10 })));
    }
    const calib = [...frames, ...(await listCalibrationImages([path.join(data, 'photos')]))];
    const rows: Row[] = [];

    const det = catalogEntry('ssdlite_mobilenet_v3_small_coco')!;
    const detFp32 = path.join(tmp, 'det_fp32.onnx');
    writeFileSync(detFp32, convertTflite(readFileSync(path.join(models, 'upstream/ssd_mobilenet_v3_small_coco_int8.tflite')), { form: 'float' }));
    const p = profileFor(det.name);
    const dq = await quantizeModel(readFileSync(detFp32), calibrationInputs(calib, det.input, 320, 320), { ...p, activationType: 'uint8' });
    const detInt8 = path.join(tmp, 'det_int8.onnx');
    writeFileSync(detInt8, dq.onnx);
    const ds = loadCocoInstances(path.join(data, 'coco-train-sample/instances.json'));
    const dm = (file: string): EvalModel => ({ file, input: det.input, labels: loadCatalogLabels(det), detection: det.detection! });
    const x = (await calibrationInputs([path.join(data, 'photos/astronaut.png')], det.input, 320, 320).next()).value as Float32Array;
    const lat = await latencyRatio(detFp32, detInt8, 'image', x, [1, 3, 320, 320], 40);
    for (const [file, prec, ratio, qs] of [[detFp32, 'fp32', 1, null], [detInt8, 'int8 (uint8 act.)', lat.ratio, dq.report.seconds]] as const) {
      const r = (await evaluateDetector(dm(file), ds, { scoreThreshold: 0.02 })).result;
      const info = modelInfo(readFileSync(file));
      rows.push({ model: det.name, precision: prec, mb: readFileSync(file).length / 1e6, params: info.params, madds: info.macs, latencyRatio: ratio, accuracy: `mAP ${r.map.toFixed(3)} / AP50 ${r.ap50.toFixed(3)}`, quantSeconds: qs });
    }

    const seg = catalogEntry('lraspp_mobilenet_v3_small_voc')!;
    const segFp32 = path.join(models, 'lraspp/lraspp_mobilenet_v3_small_voc_fp32.onnx');
    const sp = profileFor(seg.name);
    const sq = await quantizeModel(readFileSync(segFp32), calibrationInputs(calib, seg.input, 320, 240), { ...sp, inputShape: [1, 3, 240, 320] });
    const segInt8 = path.join(tmp, 'seg_int8.onnx');
    writeFileSync(segInt8, sq.onnx);
    const sm = (file: string): EvalModel => ({ file, input: seg.input, labels: loadCatalogLabels(seg), segmentation: seg.segmentation! });
    const photos = readdirSync(path.join(data, 'voc-masks-train-sample')).filter((f) => f.endsWith('.png')).map((f) => path.join(data, 'coco-train-sample', f.replace(/\.png$/, '.jpg')));
    const agree = await segmentationAgreement(sm(segFp32), sm(segInt8), photos, 320, 240);
    const slat = await latencyRatio(segFp32, segInt8, 'image', (await calibrationInputs([photos[0]!], seg.input, 320, 240).next()).value as Float32Array, [1, 3, 240, 320], 40);
    const shape = { inputShapes: { image: [1, 3, 240, 320] } };
    for (const [file, prec, ratio, acc, qs] of [
      [segFp32, 'fp32', 1, 'reference', null],
      [segInt8, 'int8 (uint8 act.)', slat.ratio, `argmax agreement ${(agree.pixelAgreement * 100).toFixed(1)}%, mIoU vs fp32 ${agree.miou.toFixed(3)}`, sq.report.seconds],
    ] as const) {
      const info = modelInfo(readFileSync(file), shape);
      rows.push({ model: `${seg.name} @320×240`, precision: prec, mb: readFileSync(file).length / 1e6, params: info.params, madds: info.macs, latencyRatio: ratio, accuracy: acc, quantSeconds: qs });
    }

    const lines = [
      '| model | precision | file MB | params | MAdds | x86 latency vs fp32 (1 thread) | ARM insn vs fp32 | accuracy (80 COCO sample photos) | quantize time |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows.map((r) => `| ${r.model} | ${r.precision} | ${r.mb.toFixed(2)} | ${(r.params / 1e6).toFixed(2)} M | ${(r.madds / 1e9).toFixed(3)} G | ${r.latencyRatio === null ? '' : r.latencyRatio.toFixed(2)} | | ${r.accuracy} | ${r.quantSeconds === null ? '' : `${r.quantSeconds.toFixed(1)} s`} |`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    process.stdout.write(`\ndetector fp32 ${lat.aMs.toFixed(2)} ms vs int8 ${lat.bMs.toFixed(2)} ms; segmenter fp32 ${slat.aMs.toFixed(2)} ms vs int8 ${slat.bMs.toFixed(2)} ms (medians, interleaved runs)\n`);
    if (values.json) writeFileSync(values.json, JSON.stringify({ rows, detectorReport: dq.report, segmenterReport: sq.report }, null, 2) + '\n');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
