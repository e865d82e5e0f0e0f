import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSession, ort } from '../../src/inference/session.js';
import { convertTflite } from '../../src/modeltools/convert.js';
import { SsdDecoder } from '../../src/postprocess/detections.js';
import { assertMatchesReference, detectorEntry, fixture, FIXTURE_NAMES, TFLITE_DETECTOR } from './fixtures.js';

/**
 * The whole detector path on the fixture inputs: the product's TFLite → fp32 ONNX conversion, a session
 * made the product's way, the decoder — against the reference detections.
 */
describe('postprocess: real detector (converted fp32 ONNX, legacy capped graph, in ONNX Runtime) → SsdDecoder', function () {
  this.timeout(120_000);
  let tmp: string;
  let session: ort.InferenceSession;
  const { entry, spec, labels } = detectorEntry();
  const decoder = new SsdDecoder(spec, labels);

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'edgesight-detector-'));
    const file = path.join(tmp, 'detector.fp32.onnx');
    // the golden detections are outputs of the float reference, which keeps every int8 saturation
    writeFileSync(file, convertTflite(readFileSync(TFLITE_DETECTOR), { form: 'float', keepScoreCap: true }));
    session = await createSession(file, { threads: 1, spinning: false });
  });
  after(async () => {
    await session?.release();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('has the I/O names the catalog says', () => {
    assert.deepEqual(session.inputNames, [entry.input.name]);
    assert.deepEqual([...session.outputNames].sort(), [spec.outputs.boxes, spec.outputs.scores].sort());
  });

  for (const name of FIXTURE_NAMES) {
    it(`${name}: decoded model output reproduces the reference detections`, async () => {
      const f = fixture(name);
      const out = await session.run({ [entry.input.name]: new ort.Tensor('float32', f.input, [1, 3, 320, 320]) });
      const scores = out[spec.outputs.scores]!.data as Float32Array;
      const boxes = out[spec.outputs.boxes]!.data as Float32Array;
      assert.equal(scores.length, 2034 * 91);
      assert.equal(boxes.length, 2034 * 4);
      const got = decoder.decode(scores, boxes, { scoreThreshold: 0.3, nmsIou: 0.6, maxDetections: 100_000 });
      assertMatchesReference(got, f.ref.objects, name);
    });
  }
});
