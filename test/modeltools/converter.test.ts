import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { convertTflite, convertTfliteReport, TfliteFormatError, type ConvertReport } from '../../src/modeltools/convert.js';
import { loadOnnx } from '../../src/modeltools/onnx/io.js';
import { indexGraph, type OnnxGraph } from '../../src/modeltools/onnx/graph.js';
import { FIXTURE_NAMES, FIXTURES, fixtureInput, maxAbsDiff, readF32, runImage, session, TFLITE_DETECTOR } from '../helpers/onnx-build.js';
import { skipOnSaturatingInt8Kernels, skipWithoutReferenceDetector } from '../helpers/paths.js';

describe('TFLite → ONNX float form (legacy: every int8 saturation kept, as the golden reference)', function () {
  let onnx: Buffer;
  before(() => {
    onnx = convertTflite(readFileSync(TFLITE_DETECTOR), { form: 'float', keepScoreCap: true });
  });

  it('has the reference I/O names, types and shapes', function () {
    const mine = loadOnnx(onnx);
    const ref = loadOnnx(skipWithoutReferenceDetector(this, 'comparing I/O with the reference export'));
    const io = (g: OnnxGraph) => ({
      inputs: g.inputs.map((v) => [v.name, v.elemType, v.shape?.slice(1)]),
      outputs: g.outputs.map((v) => [v.name, v.elemType, v.shape?.slice(1)]),
    });
    assert.deepEqual(io(mine), io(ref));
    assert.deepEqual(io(mine).inputs, [['image', 1, [3, 320, 320]]]);
    assert.equal(typeof mine.inputs[0]?.shape?.[0], 'string', 'batch dimension is symbolic');
  });

  it('matches the float reference outputs within 1e-4 on the golden fixtures (astronaut, COCO 790)', async () => {
    const s = await session(onnx);
    for (const name of FIXTURE_NAMES) {
      const out = await runImage(s, fixtureInput(name));
      for (const key of ['class_predictions', 'box_encodings']) {
        const want = readF32(path.join(FIXTURES, `${name}.${key}.f32`));
        const got = out[key];
        assert.ok(got, `missing output ${key}`);
        const d = maxAbsDiff(got, want);
        assert.ok(d < 1e-4, `${name} ${key}: max abs diff ${d}`);
      }
    }
  });

  it('runs a batch of two images (symbolic batch)', async () => {
    const s = await session(onnx);
    const a = fixtureInput('astronaut');
    const c = fixtureInput('000000000790');
    const both = new Float32Array(a.length * 2);
    both.set(a);
    both.set(c, a.length);
    const out = await runImage(s, both, [2, 3, 320, 320]);
    const want = readF32(path.join(FIXTURES, '000000000790.box_encodings.f32'));
    assert.ok(maxAbsDiff(out['box_encodings']!.subarray(want.length), want) < 1e-4);
  });
});

describe('TFLite → ONNX float form (default: class-logit upper saturations dropped)', function () {
  let capped: Buffer;
  let onnx: Buffer;
  let report: ConvertReport;
  before(() => {
    capped = convertTflite(readFileSync(TFLITE_DETECTOR), { form: 'float', keepScoreCap: true });
    ({ onnx, report } = convertTfliteReport(readFileSync(TFLITE_DETECTOR), { form: 'float' }));
  });

  const clips = (g: OnnxGraph): Map<string, { lo: boolean; hi: boolean }> =>
    new Map(
      g.nodes.filter((n) => n.opType === 'Clip').map((n) => [n.outputs[0]!, { lo: (n.inputs[1] ?? '') !== '', hi: (n.inputs[2] ?? '') !== '' }]),
    );

  it('finds the class logits by structure: the six class-predictor outputs, their reshapes/requantizations and the concat feeding the sigmoid', () => {
    const logits = report.classLogitTensors;
    assert.equal(logits.filter((t) => /^BoxPredictor_\d\/ClassPredictor\/BiasAdd$/.test(t)).length, 6);
    assert.ok(logits.includes('concat_1'));
    assert.ok(!logits.some((t) => /BoxEncodingPredictor|^concat$|box_encodings/.test(t)), `box encodings are not logits: ${logits.join(', ')}`);
    assert.deepEqual(convertTfliteReport(readFileSync(TFLITE_DETECTOR), { form: 'float', keepScoreCap: true }).report.uncappedTensors, []);
  });

  it('drops exactly the 12 upper saturations of class logits, keeps their lower ones and every other Clip', () => {
    const before = clips(loadOnnx(capped));
    const after = clips(loadOnnx(onnx));
    assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort(), 'the same Clip nodes exist');
    const changed = [...after].filter(([k, v]) => v.hi !== before.get(k)!.hi).map(([k]) => k);
    assert.equal(changed.length, 12, changed.join(', '));
    for (const k of changed) {
      assert.ok(/ClassPredictor\/BiasAdd_a$|Reshape_1_requantized$|^concat_1$/.test(k), `${k} is not a class-logit saturation`);
      assert.ok(after.get(k)!.lo, `${k} keeps its lower bound`);
    }
  });

  it('box encodings are unchanged; class scores only rise, and rise above the old 0.5 cap', async () => {
    const s = await session(onnx);
    let best = 0;
    for (const name of FIXTURE_NAMES) {
      const out = await runImage(s, fixtureInput(name));
      const box = readF32(path.join(FIXTURES, `${name}.box_encodings.f32`));
      assert.ok(maxAbsDiff(out['box_encodings']!, box) < 1e-4, `${name}: box encodings moved`);
      const clsFile = path.join(FIXTURES, `${name}.class_predictions.f32`);
      if (!existsSync(clsFile)) continue;
      const old = readF32(clsFile);
      const got = out['class_predictions']!;
      for (let i = 0; i < old.length; i++) assert.ok(got[i]! >= old[i]! - 1e-4, `${name}: score ${i} fell from ${old[i]} to ${got[i]}`);
      for (const v of got) best = Math.max(best, v);
    }
    assert.ok(best > 0.65, `best score ${best} (the capped graph tops out at 0.646)`);
  });
});

describe('TFLite → ONNX faithful QDQ form', function () {
  let onnx: Buffer;
  let graph: OnnxGraph;
  before(() => {
    onnx = convertTflite(readFileSync(TFLITE_DETECTOR), { form: 'qdq' });
    graph = loadOnnx(onnx);
  });

  it('keeps the pitfalls of MODELS.md out of the graph', () => {
    const names = graph.nodes.map((n) => n.name);
    assert.equal(new Set(names).size, names.length, 'node names are unique');
    for (const n of names) assert.ok(!/[0-9]$/.test(n), `node name ${n} ends in a digit (ORT name+digit collision)`);
    const { consumers, initializer } = indexGraph(graph);
    let perChannel = 0;
    for (const n of graph.nodes) {
      if (n.opType !== 'DequantizeLinear') continue;
      const cs = consumers.get(n.outputs[0]!) ?? [];
      const isOutput = graph.outputs.some((o) => o.name === n.outputs[0]);
      assert.ok(cs.length === 1 || (cs.length === 0 && isOutput), `DQ ${n.name} feeds ${cs.length} nodes`);
      const scale = initializer.get(n.inputs[1]!);
      const zp = initializer.get(n.inputs[2]!);
      assert.ok(scale && zp, `DQ ${n.name} has constant scale and zero point`);
      if (scale.dims.length === 0) assert.equal(zp.dims.length, 0, 'per-tensor zero point is 0-d');
      else {
        perChannel++;
        assert.equal(n.attributes['axis']?.value, 0);
      }
    }
    assert.ok(perChannel >= 88 * 2, `per-channel weight and bias DQs: ${perChannel}`);
    // Depthwise: [C,1,H,W] weights with group = C; SAME at stride 2 pads only the end.
    const dw = graph.nodes.filter((n) => n.opType === 'Conv' && n.attributes['group']?.type === 'int' && n.attributes['group'].value > 1);
    assert.equal(dw.length, 27);
    const first = graph.nodes.find((n) => n.opType === 'Conv');
    assert.deepEqual(first?.attributes['pads']?.value, [0, 0, 1, 1]);
    // Biases are int32 with zero points 0.
    const biasTypes = new Set(
      graph.nodes.filter((n) => n.opType === 'Conv').map((n) => initializer.get(indexGraph(graph).producer.get(n.inputs[2]!)!.inputs[0]!)!.dataType),
    );
    assert.deepEqual([...biasTypes], [6]);
  });

  it('stays within a few int8 steps of the float graph at the first h-swish', async function () {
    skipOnSaturatingInt8Kernels(this);
    const floatGraph = loadOnnx(convertTflite(readFileSync(TFLITE_DETECTOR), { form: 'float' }));
    const tap = 'FeatureExtractor/MobilenetV3/Conv/hard_swish/mul_1';
    const { producer } = indexGraph(graph);
    const q = producer.get(`${tap}/q`);
    assert.ok(q && floatGraph.nodes.some((n) => n.outputs.includes(tap)), 'tap points exist');
    graph.nodes.push({
      name: 'tap_dq',
      opType: 'DequantizeLinear',
      domain: '',
      inputs: [q.outputs[0]!, q.inputs[1]!, q.inputs[2]!],
      outputs: ['tap'],
      attributes: {},
    });
    graph.outputs.push({ name: 'tap', elemType: 1, shape: null });
    floatGraph.outputs.push({ name: tap, elemType: 1, shape: null });
    const { saveOnnx } = await import('../../src/modeltools/onnx/io.js');
    const step = 0.25245; // the TFLite output scale of that h-swish
    const qs = await session(saveOnnx(graph));
    const fs = await session(saveOnnx(floatGraph));
    graph.nodes.pop();
    graph.outputs.pop();
    for (const name of ['astronaut', '000000000790']) {
      const x = fixtureInput(name);
      const a = (await runImage(qs, x))['tap']!;
      const b = (await runImage(fs, x))[tap]!;
      let max = 0;
      let sum = 0;
      for (let i = 0; i < a.length; i++) {
        const e = Math.abs(a[i]! - b[i]!) / step;
        max = Math.max(max, e);
        sum += e;
      }
      assert.ok(max <= 4, `${name}: max ${max.toFixed(2)} steps`);
      assert.ok(sum / a.length < 0.5, `${name}: mean ${(sum / a.length).toFixed(3)} steps`);
    }
  });
});

describe('TFLite → ONNX errors', () => {
  it('refuses a truncated file with a clear error', () => {
    const full = readFileSync(TFLITE_DETECTOR);
    for (const n of [full.length / 2, 4096, 100]) {
      assert.throws(
        () => convertTflite(full.subarray(0, n), { form: 'float' }),
        (e: Error) => {
          assert.ok(e instanceof TfliteFormatError, `${n} bytes: ${e.name}: ${e.message}`);
          assert.match(e.message, /outside the|truncated|too short/);
          return true;
        },
      );
    }
  });

  it('refuses a file that is not a TFLite model', () => {
    const bytes = Buffer.from(readFileSync(TFLITE_DETECTOR));
    bytes.write('ONNX', 4, 'latin1');
    assert.throws(() => convertTflite(bytes, { form: 'float' }), /file identifier is "ONNX".*not a TFLite model/);
    assert.throws(() => convertTflite(new Uint8Array(3), { form: 'float' }), /too short/);
  });

  it('refuses corrupt offsets inside the file', () => {
    const bytes = Buffer.from(readFileSync(TFLITE_DETECTOR));
    bytes.writeUInt32LE(0x7fffff00, 0); // root table offset far past the end
    assert.throws(() => convertTflite(bytes, { form: 'float' }), TfliteFormatError);
  });
});
