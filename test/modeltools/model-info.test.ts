import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { convertTflite } from '../../src/modeltools/convert.js';
import { modelInfo, PAPER_FIGURES } from '../../src/modeltools/model-info.js';
import { LRASPP, TFLITE_DETECTOR } from '../helpers/onnx-build.js';
import { skipWithoutReferenceDetector } from '../helpers/paths.js';

const within = (v: number, ref: number, rel: number): boolean => Math.abs(v - ref) <= rel * ref;

describe('modelInfo', () => {
  it('converted float detector: I/O, op counts, params and MAdds near the paper (SSDLite V3-Small†)', () => {
    const i = modelInfo(convertTflite(readFileSync(TFLITE_DETECTOR), { form: 'float' }));
    assert.deepEqual(
      i.inputs.map((t) => [t.name, t.dtype, t.shape]),
      [['image', 'float', [1, 3, 320, 320]]],
    );
    assert.deepEqual(
      i.outputs.map((t) => [t.name, t.shape]),
      [
        ['class_predictions', [1, 2034, 91]],
        ['box_encodings', [1, 2034, 4]],
      ],
    );
    assert.equal(i.opCounts['Conv'], 88);
    assert.equal(i.int8OpShare, 0);
    const p = PAPER_FIGURES.ssdliteV3SmallReduced;
    assert.ok(within(i.params, p.params, 0.02), `params ${i.params}`);
    assert.ok(within(i.macs, p.madds, 0.05), `MAdds ${i.macs}`);
  });

  it("the converted float detector has the reference export's params and MAdds", function () {
    const ref = modelInfo(readFileSync(skipWithoutReferenceDetector(this, 'comparing with the reference export')));
    const fl = modelInfo(convertTflite(readFileSync(TFLITE_DETECTOR), { form: 'float' }));
    assert.equal(fl.params, ref.params);
    assert.equal(fl.macs, ref.macs);
  });

  it('converted float and QDQ detectors have the same weights and MAdds; QDQ runs quantized', () => {
    const tfl = readFileSync(TFLITE_DETECTOR);
    const fl = modelInfo(convertTflite(tfl, { form: 'float' }));
    const q = modelInfo(convertTflite(tfl, { form: 'qdq' }));
    assert.equal(q.params, fl.params, 'scales and zero points are not parameters');
    assert.equal(q.macs, fl.macs);
    assert.equal(fl.int8OpShare, 0);
    assert.equal(q.int8MacShare, 1, 'every conv sits between DQ and Q');
    // h-swish (HardSigmoid + Mul) has no integer kernel: those 36 nodes run in float.
    assert.ok(q.int8OpShare > 0.7 && q.int8OpShare < 1, `int8 op share ${q.int8OpShare}`);
  });

  it('LR-ASPP: needs a size for its symbolic H/W, and matches its model card at 320×320', () => {
    const bytes = readFileSync(LRASPP);
    assert.throws(() => modelInfo(bytes), /dimension 2 is symbolic \(H\)/);
    const i = modelInfo(bytes, { inputShapes: { image: [1, 3, 320, 320] } });
    assert.deepEqual(i.outputs[0]?.shape, [1, 21, 40, 40]);
    const p = PAPER_FIGURES.lrasppV3SmallVoc320;
    assert.ok(within(i.params, p.params, 0.02), `params ${i.params}`);
    assert.ok(within(i.macs, p.madds, 0.02), `MAdds ${i.macs}`);
    // Convolutions scale with the pixel count; only the global-pool branch does not.
    const big = modelInfo(bytes, { inputShapes: { image: [1, 3, 640, 640] } });
    assert.ok(within(big.macs / i.macs, 4, 0.02), `MAdds ratio ${big.macs / i.macs}`);
    assert.equal(big.params, i.params);
  });
});
