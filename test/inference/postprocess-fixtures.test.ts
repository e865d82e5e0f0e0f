import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { InferenceEngine } from '../../src/inference/engine.js';
import { catalogEntry, loadCatalogLabels } from '../../src/models/catalog.js';
import { SsdDecoder } from '../../src/postprocess/detections.js';
import { argmaxClassMap, classFractions } from '../../src/postprocess/segmentation.js';
import { convertedDetector, FIXTURE_NAMES, FIXTURES, fixtureInput, LRASPP, maxAbsDiff, readF32, session } from '../helpers/onnx-build.js';
import * as ort from 'onnxruntime-node';
import { detectorSpec, SEGMENTER_SPEC } from './util.js';

interface FixtureDetections {
  objects: Array<{ label: string; class_id: number; score: number; box: number[] }>;
  score_threshold: number;
  nms_iou: number;
}

const COCO = loadCatalogLabels(catalogEntry('ssdlite_mobilenet_v3_small_coco')!);

describe('post-processing of worker outputs against the golden fixtures', function () {
  this.timeout(60_000);
  let engine: InferenceEngine;
  before(async () => {
    engine = new InferenceEngine({
      init: { detector: detectorSpec(convertedDetector({ keepScoreCap: true })), segmenter: SEGMENTER_SPEC, core: null, threads: 1, spinning: false },
      stallTimeoutMs: 30_000,
    });
    await engine.start();
  });
  after(async () => {
    await engine.stop(10_000);
  });

  for (const name of FIXTURE_NAMES) {
    it(`${name}: the worker's raw outputs match the fixture, and decoding them gives the fixture's detections`, async () => {
      const r = await engine.run(fixtureInput(name), [1, 3, 320, 320]);
      const scores = r.det['class_predictions']!;
      const boxes = r.det['box_encodings']!;
      assert.deepEqual(scores.dims, [1, 2034, 91]);
      assert.ok(maxAbsDiff(scores.data, readF32(path.join(FIXTURES, `${name}.class_predictions.f32`))) < 1e-4);
      assert.ok(maxAbsDiff(boxes.data, readF32(path.join(FIXTURES, `${name}.box_encodings.f32`))) < 1e-3);
      const want = JSON.parse(readFileSync(path.join(FIXTURES, `${name}.detections.json`), 'utf8')) as FixtureDetections;
      const decoder = new SsdDecoder(catalogEntry('ssdlite_mobilenet_v3_small_coco')!.detection!, COCO);
      const got = decoder.decode(scores.data, boxes.data, { scoreThreshold: want.score_threshold, nmsIou: want.nms_iou, maxDetections: 10_000 });
      assert.deepEqual(
        got.map((d) => d.label),
        want.objects.map((o) => o.label),
      );
      got.forEach((d, i) => {
        const o = want.objects[i]!;
        assert.equal(d.class_id, o.class_id);
        assert.ok(Math.abs(d.score - o.score) < 1e-3, `${name} #${i} score ${d.score} vs ${o.score}`);
        d.box.forEach((v, k) => assert.ok(Math.abs(v - o.box[k]!) < 2e-3, `${name} #${i} box[${k}] ${v} vs ${o.box[k]}`));
      });
    });
  }

  it('segmentation in the worker: the class map at 1/8 equals argmax over a direct ORT run; fractions add up', async () => {
    const voc = loadCatalogLabels(catalogEntry('lraspp_mobilenet_v3_small_voc')!);
    const input = fixtureInput('astronaut'); // 320×320 → 40×40
    const direct = (await (await session(LRASPP)).run({ image: new ort.Tensor('float32', input.slice(), [1, 3, 320, 320]) }))['logits']!;
    const r = await engine.run(new Float32Array(3 * 320 * 320), [1, 3, 320, 320], { data: input, shape: [1, 3, 320, 320] });
    const logits = r.seg!['logits']!;
    assert.deepEqual(logits.dims, [1, 21, 40, 40]);
    const map = argmaxClassMap(logits.data, 21, 40, 40, voc);
    let diff = 0;
    const d = direct.data as Float32Array;
    for (let i = 0; i < 1600; i++) {
      let best = 0;
      for (let c = 1; c < 21; c++) if (d[c * 1600 + i]! > d[best * 1600 + i]!) best = c;
      if (best !== map.data[i]) diff++;
    }
    assert.equal(diff, 0);
    const fr = classFractions(map);
    assert.ok(Math.abs(Object.values(fr).reduce((a, b) => a + b, 0) - 1) < 1e-3);
    assert.equal(Object.keys(fr).filter((k) => k !== 'background')[0], 'person');
  });

  it('argmaxClassMap / classFractions on a hand-made tensor (ties go to the lower class)', () => {
    // 3 classes over a 2×2 map, NCHW planes
    const logits = Float32Array.from([
      // class 0
      1, 0, 0, 5,
      // class 1
      0, 2, 0, 5,
      // class 2
      0, 0, 3, 1,
    ]);
    const map = argmaxClassMap(logits, 3, 2, 2, ['bg', 'a', 'b']);
    assert.deepEqual([...map.data], [0, 1, 2, 0]);
    assert.deepEqual(classFractions(map), { bg: 0.5, a: 0.25, b: 0.25 });
    assert.throws(() => argmaxClassMap(logits, 3, 2, 3, ['bg', 'a', 'b']), /logits size 12 != 3×2×3/);
  });
});
