import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadCocoInstances } from '../../src/modeltools/eval/dataset.js';
import { evalModel, prepareEvalModels, type PreparedSet } from '../../src/modeltools/eval/eval-models.js';
import { detectFile, evaluateDetector, segmentationAgreement } from '../../src/modeltools/eval/evaluate.js';
import type { PrepareContext } from '../../src/models/store.js';
import { modelInfo } from '../../src/modeltools/model-info.js';
import { loadOnnx } from '../../src/modeltools/onnx/io.js';
import { activationTypeFor, QUANTIZER_VERSION } from '../../src/modeltools/quantize/manifest-quantizer.js';
import { profileFor } from '../../src/modeltools/quantize/profiles.js';
import { TEST_CACHE } from '../helpers/daemon.js';
import { MODEL_SOURCES_DIR, PHOTOS_DIR, skipWithoutTestData, TFLITE_DETECTOR } from '../helpers/paths.js';
import { convertTflite, tfliteConverter } from '../../src/modeltools/convert.js';
import { parseConfigText } from '../../src/config/load.js';

const DEFAULTS = parseConfigText('', null, { env: {} }).config;

/**
 * The gates on the int8 models exactly as the product makes them on first use (prepareModel +
 * the default quantizer: the shipped calibration set, the catalog profiles, this machine's activation
 * type), in the common test cache. Evaluation on the 80 COCO sample photos, none of them in the
 * calibration set. Speed is not gated here: the x86 int8/fp32 latency ratio is reported by
 * `npm run models:report` (interleaved, one run), and the ARM instruction counts are gated by
 * `npm run bench:arm64` on the counts it has just made (.ci/arm64/insn-gate.mjs).
 */
describe('int8 gates: the default int8 models (shipped calibration set)', function () {
  this.timeout(300_000);
  let m: PreparedSet;

  before(async () => {
    const ctx: PrepareContext = {
      converter: tfliteConverter,
      cacheDir: TEST_CACHE,
      mirrors: [MODEL_SOURCES_DIR],
      allowNetwork: false,
      log: () => undefined,
    };
    m = await prepareEvalModels(ctx);
  });

  it('the int8 manifests record how they were made (arch, activation type, method, the shipped calibration set, output SNR)', () => {
    for (const lm of [m.detector.int8, m.segmenter.int8]) {
      const q = lm.manifest.provenance.quantization as Record<string, unknown> & { calibration: { images: number; sources: Record<string, number> } };
      assert.equal(lm.manifest.precision, 'int8');
      assert.equal(q.arch, process.arch);
      assert.equal(q.activation_type, activationTypeFor('auto'));
      assert.equal(q.quantizer_version, QUANTIZER_VERSION);
      assert.deepEqual(q.calibration.sources, { '<package>/models/calibration': 40, '<package>/config/demo-photos': 5 });
      assert.deepEqual(q.keep_float, profileFor(lm.manifest.name).exclude);
      assert.ok(Object.keys(q.output_snr_db as object).length > 0);
    }
  });

  it('detector: 87 of 88 convs run in int8, carrying most of the MAdds', () => {
    const info = modelInfo(readFileSync(m.detector.int8.file));
    // the float one (the first conv) is the profile's choice; the first depthwise reads its input quantized
    // per channel (profiles.ts, depthwise-input.ts)
    const g = loadOnnx(readFileSync(m.detector.int8.file));
    const dq = new Set(g.nodes.filter((n) => n.opType === 'DequantizeLinear').flatMap((n) => n.outputs));
    const convs = g.nodes.filter((n) => n.opType === 'Conv');
    assert.equal(convs.length, 88);
    assert.equal(convs.filter((n) => dq.has(n.inputs[0]!) && dq.has(n.inputs[1]!)).length, 87);
    assert.ok(info.int8MacShare > 0.85, `int8 MAC share ${info.int8MacShare}`);
  });

  it('detector: int8 mAP and AP50 ≥ 97% of the (uncapped) float and above the capped float graph on the 80 COCO sample photos', async function () {
    const data = skipWithoutTestData(this, 'the int8 mAP gate (80 COCO sample photos)');
    const ds = loadCocoInstances(path.join(data, 'coco-train-sample/instances.json'));
    assert.equal(ds.images.length, 80);
    const f = await evaluateDetector(evalModel(m.detector.fp32), ds, { scoreThreshold: 0.02 });
    const q = await evaluateDetector(evalModel(m.detector.int8), ds, { scoreThreshold: 0.02 });
    // the old graph (every int8 saturation kept): the int8 default must beat it, not only today's int8 of it
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'edgesight-gate-'));
    const cappedFile = path.join(tmp, 'capped.onnx');
    writeFileSync(cappedFile, convertTflite(readFileSync(TFLITE_DETECTOR), { form: 'float', keepScoreCap: true }));
    const c = await evaluateDetector({ ...evalModel(m.detector.fp32), file: cappedFile }, ds, { scoreThreshold: 0.02 });
    rmSync(tmp, { recursive: true, force: true });
    console.log(
      `    float capped mAP ${c.result.map.toFixed(4)} | float mAP ${f.result.map.toFixed(4)} AP50 ${f.result.ap50.toFixed(4)} | int8 mAP ${q.result.map.toFixed(4)} AP50 ${q.result.ap50.toFixed(4)} | ratio ${(q.result.map / f.result.map).toFixed(3)}`,
    );
    assert.ok(f.result.map > c.result.map, `uncapped float mAP ${f.result.map} ≤ capped ${c.result.map}`);
    // measured 0.2048 vs 0.2082 (98.4%), AP50 0.3280 vs 0.3302 (99.3%; docs/detector-accuracy.md); bias
    // correction alone measured 96.8% and the profile before it 95.0%: both fail
    assert.ok(q.result.map >= 0.97 * f.result.map, `int8 mAP ${q.result.map} < 97% of float ${f.result.map}`);
    assert.ok(q.result.ap50 >= 0.97 * f.result.ap50, `int8 AP50 ${q.result.ap50} < 97% of float ${f.result.ap50}`);
    assert.ok(q.result.map > c.result.map, `int8 mAP ${q.result.map} ≤ the capped float graph's ${c.result.map}`);
  });

  it('detector: int8 still finds the person, the cat and a motorcycle at the default score threshold', async () => {
    const thr = DEFAULTS.detection.score_threshold;
    for (const [photo, label] of [
      ['astronaut.png', 'person'],
      ['chelsea.png', 'cat'],
      ['motorcycle_left.png', 'motorcycle'],
    ] as const) {
      const d = await detectFile(evalModel(m.detector.int8), path.join(PHOTOS_DIR, photo), thr);
      assert.ok(
        d.some((x) => x.label === label),
        `${photo}: no ${label} ≥ ${thr} (got ${d.map((x) => `${x.label} ${x.score.toFixed(2)}`).join(', ') || 'nothing'})`,
      );
    }
  });

  it('segmenter: int8 argmax agrees with float on ≥ 95% of cells (VOC sample photos)', async function () {
    const DATA = skipWithoutTestData(this, 'the VOC-mask segmentation gate');
    const files = readdirSync(path.join(DATA, 'voc-masks-train-sample'))
      .filter((f) => f.endsWith('.png'))
      .map((f) => path.join(DATA, 'coco-train-sample', f.replace(/\.png$/, '.jpg')));
    assert.equal(files.length, 80);
    const a = await segmentationAgreement(evalModel(m.segmenter.fp32), evalModel(m.segmenter.int8), files, 320, 240);
    console.log(`    pixel agreement ${(a.pixelAgreement * 100).toFixed(2)}%, mIoU vs float ${a.miou.toFixed(3)} over ${a.cells} cells`);
    assert.ok(a.pixelAgreement >= 0.95, `pixel agreement ${a.pixelAgreement}`);
  });
});
