import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { f, GraphBuilder } from '../../src/modeltools/onnx/builder.js';
import { DataType, indexGraph, type OnnxTensor } from '../../src/modeltools/onnx/graph.js';
import { loadOnnx, saveOnnx } from '../../src/modeltools/onnx/io.js';
import { TensorHistogram } from '../../src/modeltools/quantize/histogram.js';
import { activationTypeFor } from '../../src/modeltools/quantize/manifest-quantizer.js';
import { activationParams } from '../../src/modeltools/quantize/qdq.js';
import { formatReport, quantizeModel } from '../../src/modeltools/quantize/quantize.js';
import { skipOnSaturatingInt8Kernels } from '../helpers/paths.js';

/** Deterministic pseudo-random values in [-1, 1). */
function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

// x(1,2,8,8) → Conv 3×3 (4 out) → Relu → depthwise Conv (4 groups) → Add(+ const 0.5) → HardSigmoid & Mul (h-swish) → y
const W1 = Float32Array.from(rand(4 * 2 * 9, 1), (v, i) => v * [0.5, 2, 0.01, 1][Math.floor(i / 18)]);
const B1 = Float32Array.of(0.1, -0.2, 0.05, 0);
const W2 = rand(4 * 9, 2);
const B2 = Float32Array.of(0, 0.3, -0.1, 0.2);

function tinyModel(): Uint8Array {
  const b = GraphBuilder.empty('tiny');
  b.input('x', DataType.FLOAT, [1, 2, 8, 8]);
  const w1 = b.initializer('w_one', DataType.FLOAT, [4, 2, 3, 3], W1);
  const b1 = b.initializer('b_one', DataType.FLOAT, [4], B1);
  const c1 = b.op('Conv', ['x', w1, b1], 'conv_one', { pads: [1, 1, 1, 1] });
  const r1 = b.op('Relu', [c1], 'relu_one');
  const w2 = b.initializer('w_dw', DataType.FLOAT, [4, 1, 3, 3], W2);
  const b2 = b.initializer('b_dw', DataType.FLOAT, [4], B2);
  const c2 = b.op('Conv', [r1, w2, b2], 'conv_dw', { pads: [1, 1, 1, 1], group: 4 });
  const half = b.scalarF32('half', 0.5);
  const a = b.op('Add', [c2, half], 'add_half');
  const hs = b.op('HardSigmoid', [a], 'hsig', { alpha: f(1 / 6) });
  b.node('Mul', [a, hs], ['y'], {}, { exactOutputs: true });
  b.output('y', DataType.FLOAT, [1, 4, 8, 8]);
  return saveOnnx(b.graph);
}

const calib = Array.from({ length: 8 }, (_, i) => Float32Array.from(rand(128, 100 + i), (v) => v * 3));

async function runModel(bytes: Uint8Array, x: Float32Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    return (await s.run({ x: new ort.Tensor('float32', x, [1, 2, 8, 8]) }))['y']!.data as Float32Array;
  } finally {
    await s.release();
  }
}

function init(graph: ReturnType<typeof loadOnnx>, name: string): OnnxTensor {
  const t = graph.initializers.find((x) => x.name === name);
  assert.ok(t, `initializer ${name} exists`);
  return t;
}

describe('quantizer on a tiny conv graph', () => {
  it('per-channel symmetric int8 weights: scale_c = max|w_c| / 127 exactly, codes round(w / scale_c)', async () => {
    const { onnx } = await quantizeModel(tinyModel(), calib, { method: 'minmax', reportInputs: 2 });
    const g = loadOnnx(onnx);
    for (const [name, w, cout] of [
      ['w_one', W1, 4],
      ['w_dw', W2, 4],
    ] as const) {
      const s = init(g, `${name}/scale`);
      const q = init(g, `${name}/quantized`);
      const zp = init(g, `${name}/zero_point`);
      assert.equal(s.dataType, DataType.FLOAT);
      assert.deepEqual(s.dims, [cout]);
      assert.equal(q.dataType, DataType.INT8);
      assert.equal(zp.dataType, DataType.INT8);
      assert.ok(
        [...zp.data].every((v) => v === 0),
        'symmetric: zero points 0',
      );
      const per = w.length / cout;
      for (let c = 0; c < cout; c++) {
        const m = Math.max(...Array.from(w.subarray(c * per, (c + 1) * per), Math.abs));
        assert.equal(s.data[c], Math.fround(m / 127), `${name} channel ${c} scale`);
        for (let i = c * per; i < (c + 1) * per; i++) assert.equal(q.data[i], Math.round(w[i]! / (s.data[c] as number)));
        assert.equal(Math.max(...Array.from(q.data.subarray(c * per, (c + 1) * per) as Int8Array, Math.abs)), 127, 'the largest weight maps to ±127');
      }
      const dq = g.nodes.find((n) => n.opType === 'DequantizeLinear' && n.inputs[0] === q.name);
      assert.equal(dq?.attributes['axis']?.value, 0, 'per-channel along axis 0');
    }
    // the float weights are gone from the file
    assert.ok(!g.initializers.some((t) => t.name === 'w_one' || t.name === 'b_one'));
  });

  it('int32 bias with scale = input scale × weight scale; 0-d activation scales; a DQ per consumer; safe names', async () => {
    const { onnx } = await quantizeModel(tinyModel(), calib, { method: 'minmax', reportInputs: 2 });
    const g = loadOnnx(onnx);
    const xScale = init(g, 'x/scale');
    assert.deepEqual(xScale.dims, [], 'activation scale is 0-d');
    assert.deepEqual(init(g, 'x/zero_point').dims, []);
    assert.equal(init(g, 'x/zero_point').dataType, DataType.UINT8);
    const ws = init(g, 'w_one/scale').data as Float32Array;
    const bs = init(g, 'b_one/scale').data as Float32Array;
    const bq = init(g, 'b_one/quantized');
    assert.equal(bq.dataType, DataType.INT32);
    for (let c = 0; c < 4; c++) {
      assert.equal(bs[c], Math.fround((xScale.data[0] as number) * ws[c]!));
      assert.equal(bq.data[c], Math.round(B1[c]! / bs[c]!));
    }
    // the depthwise conv reads the Relu output, whose range starts at 0: zero point 0 and the Relu folded into the Q
    assert.equal(init(g, 'relu_one/zero_point').data[0], 0);
    assert.ok(!g.nodes.some((n) => n.opType === 'Relu'), 'Relu folded into its QuantizeLinear');
    // add_half feeds both the h-swish gate and its Mul: one Q, two DQs
    const { consumers } = indexGraph(g);
    const q = g.nodes.filter((n) => n.opType === 'QuantizeLinear' && n.inputs[0] === 'add_half');
    assert.equal(q.length, 1);
    const dqs = consumers.get(q[0]!.outputs[0]!) ?? [];
    assert.equal(dqs.length, 2);
    assert.ok(
      dqs.every((d) => d.opType === 'DequantizeLinear' && (consumers.get(d.outputs[0]!) ?? []).length === 1),
      'each DQ feeds one consumer',
    );
    // HardSigmoid(x) = clip(x/6 + 1/2, 0, 1) becomes Add(x, 3) quantized over [0, 6] and read back with
    // scale 1/255, so DQ → Add → Q and DQ → Mul → Q both fuse into integer kernels
    assert.ok(!g.nodes.some((n) => n.opType === 'HardSigmoid'), 'no float HardSigmoid left');
    const gateAdd = g.nodes.find((n) => n.name === 'hsig/Add')!;
    assert.ok(gateAdd && gateAdd.opType === 'Add');
    assert.ok(
      gateAdd.inputs.every((i) => g.nodes.find((n) => n.outputs.includes(i))?.opType === 'DequantizeLinear'),
      'both Add inputs dequantized',
    );
    assert.equal(init(g, 'hsig/offset/quantized').data[0], 255);
    assert.equal(init(g, 'hsig/offset/scale').data[0], Math.fround(3 / 255));
    const gateQ = consumers.get(gateAdd.outputs[0]!)!;
    assert.equal(gateQ.length, 1);
    assert.equal(gateQ[0]!.opType, 'QuantizeLinear');
    assert.equal(init(g, gateQ[0]!.inputs[1]!).data[0], Math.fround(6 / 255));
    const gateDq = consumers.get(gateQ[0]!.outputs[0]!)!;
    assert.deepEqual(
      gateDq.map((n) => [n.opType, n.outputs[0]]),
      [['DequantizeLinear', 'hsig']],
    );
    assert.equal(init(g, gateDq[0]!.inputs[1]!).data[0], Math.fround(1 / 255));
    assert.ok(
      (consumers.get('hsig') ?? []).every((c) => c.opType === 'Mul'),
      'the gate feeds the Mul',
    );
    // the output keeps its name and float type
    assert.deepEqual(
      g.outputs.map((o) => [o.name, o.elemType]),
      [['y', DataType.FLOAT]],
    );
    const names = g.nodes.map((n) => n.name);
    assert.equal(new Set(names).size, names.length, 'node names unique');
    assert.ok(
      names.every((n) => !/[0-9]$/.test(n)),
      `no node name ends in a digit: ${names.filter((n) => /[0-9]$/.test(n)).join(', ')}`,
    );
  });

  it('runs in ONNX Runtime close to float, and the report lists every quantized tensor worst first', async function () {
    skipOnSaturatingInt8Kernels(this);
    const fp = tinyModel();
    const { onnx, report } = await quantizeModel(fp, calib, { method: 'minmax', reportInputs: 3 });
    const x = calib[0]!;
    const a = await runModel(fp, x);
    const b = await runModel(onnx, x);
    let s = 0;
    let e = 0;
    for (let i = 0; i < a.length; i++) {
      s += a[i]! ** 2;
      e += (a[i]! - b[i]!) ** 2;
    }
    const snr = 10 * Math.log10(s / e);
    assert.ok(snr > 25, `output SNR ${snr.toFixed(1)} dB`);
    assert.equal(report.reportInputs, 3);
    assert.equal(report.calibrationInputs, 8);
    assert.equal(report.quantizedConvs, 2);
    assert.deepEqual(report.layers.map((l) => l.tensor).sort(), ['add_half', 'conv_dw', 'relu_one', 'x', 'y'].sort());
    for (let i = 1; i < report.layers.length; i++) assert.ok(report.layers[i - 1]!.snrDb <= report.layers[i]!.snrDb, 'sorted worst first');
    assert.ok(Math.abs(report.outputs[0]!.snrDb - snr) < 6, `report output SNR ${report.outputs[0]!.snrDb} vs measured ${snr}`);
    assert.match(formatReport(report), /worst layers \(of 5/);
  });

  it('int8 activations: same scales, zero points shifted by −128, same outputs', async () => {
    const u = await quantizeModel(tinyModel(), calib, { method: 'minmax', activationType: 'uint8', reportInputs: 1 });
    const s = await quantizeModel(tinyModel(), calib, { method: 'minmax', activationType: 'int8', reportInputs: 1 });
    const gu = loadOnnx(u.onnx);
    const gs = loadOnnx(s.onnx);
    for (const t of ['x', 'relu_one', 'add_half']) {
      assert.equal(init(gs, `${t}/scale`).data[0], init(gu, `${t}/scale`).data[0]);
      assert.equal(init(gs, `${t}/zero_point`).dataType, DataType.INT8);
      assert.equal((init(gs, `${t}/zero_point`).data[0] as number) + 128, init(gu, `${t}/zero_point`).data[0]);
    }
    const a = await runModel(u.onnx, calib[1]!);
    const b = await runModel(s.onnx, calib[1]!);
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
    assert.ok(m < 1e-4, `uint8 vs int8 max diff ${m}`);
    // the per-architecture rule measured with npm run bench:arm64 (A76 has sdot: int8; A72 does not: uint8)
    assert.equal(
      activationTypeFor('auto', 'x64', () => ['asimddp']),
      'uint8',
    );
    assert.equal(
      activationTypeFor('auto', 'arm64', () => ['fp', 'asimd', 'crc32', 'atomics', 'asimddp']),
      'int8',
    );
    assert.equal(
      activationTypeFor('auto', 'arm64', () => ['fp', 'asimd', 'crc32']),
      'uint8',
    );
    assert.equal(activationTypeFor('int8', 'x64'), 'int8');
    assert.equal(
      activationTypeFor('uint8', 'arm64', () => ['asimddp']),
      'uint8',
    );
  });

  it('bias correction moves the int8 conv biases so the mean error per output channel over the calibration inputs shrinks', async () => {
    const fp = tinyModel();
    // tight percentile ranges clip the tails: a one-sided error whose mean bias correction can take out
    const opts = { method: 'percentile' as const, percentile: 95 };
    const plain = await quantizeModel(fp, calib, opts);
    const corrected = await quantizeModel(fp, calib, { ...opts, biasCorrection: 1 });
    // the depthwise conv's output (before its Q) in each graph, the QDQ one run as written (DQ → float
    // conv → Q, free of any CPU's integer kernels): its mean per channel is what the correction aims at
    const convOut = async (bytes: Uint8Array, x: Float32Array, level: 'disabled' | 'all'): Promise<Float32Array> => {
      const g = loadOnnx(bytes);
      g.outputs.push({ name: 'conv_dw', elemType: DataType.FLOAT, shape: null });
      const s = await ort.InferenceSession.create(saveOnnx(g), { intraOpNumThreads: 1, graphOptimizationLevel: level });
      try {
        return (await s.run({ x: new ort.Tensor('float32', x, [1, 2, 8, 8]) }))['conv_dw']!.data as Float32Array;
      } finally {
        await s.release();
      }
    };
    const meanAbsError = async (q: Uint8Array): Promise<number> => {
      const sum = new Float64Array(4);
      for (const x of calib) {
        const a = await convOut(fp, x, 'all');
        const b = await convOut(q, x, 'disabled');
        for (let i = 0; i < a.length; i++) sum[Math.floor(i / 64)] += (b[i]! - a[i]!) / 64 / calib.length;
      }
      return sum.reduce((acc, v) => acc + Math.abs(v), 0) / 4;
    };
    const before = await meanAbsError(plain.onnx);
    const after = await meanAbsError(corrected.onnx);
    assert.ok(after < 0.1 * before, `mean |error| per channel ${after.toExponential(2)} corrected vs ${before.toExponential(2)} plain`);
    // only the biases differ: same ranges, same weights
    const [gp, gc] = [loadOnnx(plain.onnx), loadOnnx(corrected.onnx)];
    assert.deepEqual(init(gc, 'x/scale').data, init(gp, 'x/scale').data);
    assert.deepEqual(init(gc, 'w_dw/quantized').data, init(gp, 'w_dw/quantized').data);
    assert.notDeepEqual(init(gc, 'b_dw/quantized').data, init(gp, 'b_dw/quantized').data);
  });

  it('exclude keeps a tensor (and the conv reading it) in float', async () => {
    const { onnx, report } = await quantizeModel(tinyModel(), calib, { exclude: ['relu_*'], reportInputs: 1 });
    const g = loadOnnx(onnx);
    assert.deepEqual(report.keptFloat, ['relu_one']);
    assert.ok(!g.nodes.some((n) => n.opType === 'QuantizeLinear' && n.inputs[0] === 'relu_one'));
    assert.ok(
      g.initializers.some((t) => t.name === 'w_dw' && t.dataType === DataType.FLOAT),
      'the depthwise conv keeps float weights',
    );
    assert.ok(g.initializers.some((t) => t.name === 'w_one/quantized'));
  });

  it('perChannelDepthwise: a float tensor read by a depthwise conv is quantized per channel, the conv gets int8 weights', async function () {
    skipOnSaturatingInt8Kernels(this);
    // relu_one's channels span 0.01× to 2× (W1): one scale per channel, moved into the depthwise weights
    const { onnx, report } = await quantizeModel(tinyModel(), calib, {
      method: 'minmax',
      exclude: ['relu_*'],
      perChannelDepthwise: ['relu_one'],
      reportInputs: 1,
    });
    const g = loadOnnx(onnx);
    assert.equal(report.quantizedConvs, 2);
    const pad = g.nodes.find((n) => n.opType === 'Pad' && n.inputs[0] === 'relu_one')!;
    assert.ok(pad, 'the conv padding becomes an explicit float Pad (a channel’s 0 is not the per-tensor zero point)');
    const q = g.nodes.find((n) => n.opType === 'QuantizeLinear' && n.inputs[0] === pad.outputs[0])!;
    assert.equal(q.attributes['axis']?.value, 1);
    const scales = init(g, q.inputs[1]!).data as Float32Array;
    assert.equal(scales.length, 4);
    assert.ok(Math.max(...scales) / Math.min(...scales) > 20, `per-channel scales ${Array.from(scales).join(', ')}`);
    const conv = g.nodes.find((n) => n.opType === 'Conv' && n.attributes['group']?.value === 4)!;
    assert.deepEqual(conv.attributes['pads']?.value, [0, 0, 0, 0]);
    const dqOf = (t: string): string | undefined => g.nodes.find((n) => n.outputs.includes(t))?.opType;
    assert.deepEqual(conv.inputs.map(dqOf), ['DequantizeLinear', 'DequantizeLinear', 'DequantizeLinear']);
    assert.ok(!g.initializers.some((t) => t.name === 'w_dw' && t.dataType === DataType.FLOAT), 'no float depthwise weights left');
    // same arithmetic up to 8-bit rounding: close to float, and closer than one scale for the whole tensor
    const x = Float32Array.from(rand(128, 7), (v) => v * 3);
    const ref = await runModel(tinyModel(), x);
    const err = (y: Float32Array): number => Math.sqrt(y.reduce((a, v, i) => a + (v - ref[i]!) ** 2, 0) / ref.reduce((a, v) => a + v * v, 0));
    const perChannel = err(await runModel(onnx, x));
    const perTensor = err(await runModel((await quantizeModel(tinyModel(), calib, { method: 'minmax', reportInputs: 1 })).onnx, x));
    assert.ok(perChannel < 0.05, `relative error ${perChannel}`);
    assert.ok(perChannel <= perTensor, `per channel ${perChannel} vs per tensor ${perTensor}`);
    await assert.rejects(
      quantizeModel(tinyModel(), calib, { exclude: ['conv_one'], perChannelDepthwise: ['conv_one'] }),
      /not read by exactly one depthwise Conv/,
    );
  });

  it('refuses bad inputs with clear errors', async () => {
    await assert.rejects(quantizeModel(tinyModel(), [], {}), /no calibration inputs/);
    await assert.rejects(quantizeModel(tinyModel(), [new Float32Array(5)], {}), /calibration input has 5 values, \[1,2,8,8\] needs 128/);
    await assert.rejects(quantizeModel(tinyModel(), calib, { percentile: 20 }), /percentile must be in/);
    await assert.rejects(quantizeModel(tinyModel(), calib, { exclude: ['*'] }), /nothing to quantize/);
  });
});

describe('calibration histogram', () => {
  it('minmax is exact; percentile cuts the tails; mse clips a lone outlier; ranges always contain 0', () => {
    const h = new TensorHistogram();
    const bulk = Float32Array.from({ length: 100000 }, (_, i) => (i % 1000) / 1000); // uniform [0, 1)
    h.add(bulk);
    h.add(Float32Array.of(100)); // one outlier after the first batch: the range doubles several times
    assert.deepEqual(h.range('minmax', { percentile: 99.99, levels: 256 }), [0, 100]);
    const [plo, phi] = h.range('percentile', { percentile: 99.9, levels: 256 });
    assert.equal(plo, 0);
    assert.ok(phi > 0.99 && phi < 1.1, `percentile hi ${phi}`);
    const [, mhi] = h.range('mse', { percentile: 99.99, levels: 256 });
    assert.ok(mhi < 100 && mhi >= 20, `mse hi ${mhi}`);
    const neg = new TensorHistogram();
    neg.add(Float32Array.of(2, 3, 4));
    assert.deepEqual(neg.range('minmax', { percentile: 99, levels: 256 }), [0, 4]);
    assert.throws(() => new TensorHistogram().range('minmax', { percentile: 99, levels: 256 }), /no calibration data/);
    assert.throws(() => neg.add(Float32Array.of(Number.NaN)), /non-finite/);
  });

  it("frames: the range is a quantile of the inputs' own extremes, so one unusual input does not set it", () => {
    const h = new TensorHistogram();
    for (let i = 1; i <= 9; i++) h.add(Float32Array.of(-i / 10, i));
    h.add(Float32Array.of(-50, 100));
    assert.deepEqual(h.range('minmax', { percentile: 99.99, levels: 256 }), [-50, 100]);
    const [lo, hi] = h.range('frames', { percentile: 99.99, levels: 256, framePercentile: 50 });
    assert.ok(Math.abs(hi - 5.5) < 1e-6 && Math.abs(lo + 0.55) < 1e-6, `frames range [${lo}, ${hi}]`);
  });

  it('activation parameters: 0 is exact, uint8 and int8 codes differ by 128', () => {
    const u = activationParams(-1, 3, 'uint8');
    const s = activationParams(-1, 3, 'int8');
    assert.equal(u.scale, Math.fround(4 / 255));
    assert.equal(u.zeroPoint, Math.round(1 / u.scale));
    assert.equal(s.zeroPoint, u.zeroPoint - 128);
    assert.equal(activationParams(0, 6, 'uint8').zeroPoint, 0);
    assert.throws(() => activationParams(1, 3, 'uint8'), /must contain 0/);
  });
});
