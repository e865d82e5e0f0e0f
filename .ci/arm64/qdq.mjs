// A tiny int8 QDQ network, hand-encoded as ONNX with protobufjs, plus an exact JS reference of it.
//
// Why: the product's int8 detector is not built yet, but the ARM risk sits in ONNX Runtime's int8
// kernels (QLinearConv via MLAS, `sdot` on A76, plain NEON on A72). ORT fuses this Q/DQ pattern into
// those kernels, so this small graph exercises the same code paths: conv 3×3 + ReLU, depthwise 3×3,
// conv 1×1 — the MobileNetV3 building blocks — with per-channel int8 weights and int32 biases.
// The activations are int8 or uint8 (the uint8 variant is the int8 one with zero points + 128, so both
// compute the same real values; x86 fuses only uint8, ARM both).
import protobuf from 'protobufjs';

const PROTO = `
syntax = "proto3";
package onnx;
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
message TensorProto { repeated int64 dims = 1; int32 data_type = 2; string name = 8; bytes raw_data = 9; }
message AttributeProto { string name = 1; float f = 2; int64 i = 3; repeated int64 ints = 8; int32 type = 20; }
message NodeProto { repeated string input = 1; repeated string output = 2; string name = 3; string op_type = 4;
                    repeated AttributeProto attribute = 5; string domain = 7; }
message TensorShapeProto { message Dimension { int64 dim_value = 1; } repeated Dimension dim = 1; }
message TypeProto { message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; } Tensor tensor_type = 1; }
message ValueInfoProto { string name = 1; TypeProto type = 2; }
message GraphProto { repeated NodeProto node = 1; string name = 2; repeated TensorProto initializer = 5;
                     repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; }
message ModelProto { int64 ir_version = 1; string producer_name = 2; GraphProto graph = 7;
                     repeated OperatorSetIdProto opset_import = 8; }
`;
const ModelProto = protobuf.parse(PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
const FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  INT32 = 6;
const ATTR_INT = 2,
  ATTR_INTS = 7;

/** Deterministic PRNG (mulberry32): the same weights and input on every machine. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Round half to even, as ONNX QuantizeLinear does. */
const rne = (x) => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
const clamp = (v, lo, hi) => (v < lo ? lo : v > hi ? hi : v);

// Network shape: [1,16,32,32] → conv3×3 32 + ReLU → depthwise 3×3 → conv1×1 24.
const CIN = 16,
  H = 32,
  W = 32;
const LAYERS = [
  { name: 'conv1', cout: 32, k: 3, group: 1, relu: true },
  { name: 'dw2', cout: 32, k: 3, group: 32, relu: false },
  { name: 'pw3', cout: 24, k: 1, group: 1, relu: false },
];

function conv(x, cin, h, w, wts, bias, cout, k, group) {
  const pad = (k - 1) >> 1,
    cpg = cin / group,
    opg = cout / group;
  const y = new Float64Array(cout * h * w);
  for (let o = 0; o < cout; o++) {
    const g = Math.floor(o / opg);
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++) {
        let s = bias[o];
        for (let c = 0; c < cpg; c++)
          for (let di = 0; di < k; di++)
            for (let dj = 0; dj < k; dj++) {
              const ii = i + di - pad,
                jj = j + dj - pad;
              if (ii < 0 || jj < 0 || ii >= h || jj >= w) continue;
              s += x[((g * cpg + c) * h + ii) * w + jj] * wts[((o * cpg + c) * k + di) * k + dj];
            }
        y[(o * h + i) * w + j] = s;
      }
  }
  return y;
}

/** Asymmetric int8 parameters covering [min, max] (and 0). */
function qparams(values) {
  let lo = 0,
    hi = 0;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = Math.fround((hi - lo) / 255);
  return { scale, zp: clamp(rne(-128 - lo / scale), -128, 127) };
}
const quant = (v, { scale, zp }) => clamp(rne(v / scale) + zp, -128, 127);

/**
 * Builds the network: weights, quantization parameters chosen from a float pass over the input
 * (calibration), the integer reference output, and the ONNX bytes for int8 or uint8 activations.
 */
export function buildQdq(seed = 11) {
  const rand = rng(seed);
  const input = new Float32Array(CIN * H * W).map(() => rand() * 2 - 1);
  const xq = { scale: Math.fround(1 / 127), zp: 0 };
  const layers = [];
  // Reference: what the fused int8 graph computes — dequantized ints in, float accumulate, requantize.
  let cur = Array.from(input, (v) => quant(v, xq)),
    curQ = xq,
    cin = CIN;
  for (const L of LAYERS) {
    const cpg = cin / L.group,
      n = L.cout * cpg * L.k * L.k;
    const wf = Array.from({ length: n }, () => (rand() * 2 - 1) / Math.sqrt(cpg * L.k * L.k));
    const perCh = n / L.cout,
      wScale = [],
      wInt = new Int8Array(n);
    for (let o = 0; o < L.cout; o++) {
      let m = 0;
      for (let t = 0; t < perCh; t++) m = Math.max(m, Math.abs(wf[o * perCh + t]));
      wScale.push(Math.fround(m / 127));
      for (let t = 0; t < perCh; t++) wInt[o * perCh + t] = clamp(rne(wf[o * perCh + t] / wScale[o]), -127, 127);
    }
    const bInt = Int32Array.from({ length: L.cout }, () => Math.round((rand() - 0.5) * 200));
    const bScale = wScale.map((s) => Math.fround(curQ.scale * s));
    const xd = cur.map((q) => (q - curQ.zp) * curQ.scale);
    const wd = Array.from(wInt, (q, t) => q * wScale[Math.floor(t / perCh)]);
    const bd = Array.from(bInt, (q, o) => q * bScale[o]);
    let y = conv(xd, cin, H, W, wd, bd, L.cout, L.k, L.group);
    if (L.relu) y = y.map((v) => Math.max(0, v));
    const yq = qparams(y);
    layers.push({ ...L, cin, wInt, wScale, bInt, bScale, inQ: curQ, outQ: yq });
    cur = Array.from(y, (v) => quant(v, yq));
    curQ = yq;
    cin = L.cout;
  }
  return { input, dims: [1, CIN, H, W], outDims: [1, cin, H, W], reference: Int8Array.from(cur), outQ: curQ, layers };
}

const tensor = (name, dataType, dims, typed) => ({
  name,
  data_type: dataType,
  dims,
  raw_data: new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength),
});
const valueInfo = (name, elemType, dims) => ({
  name,
  type: { tensor_type: { elem_type: elemType, shape: { dim: dims.map((d) => ({ dim_value: d })) } } },
});

/** ONNX bytes of the network with `act` ('int8' | 'uint8') activations; float input and output. */
export function qdqModelBytes(net, act) {
  const shift = act === 'uint8' ? 128 : 0,
    T = act === 'uint8' ? UINT8 : INT8;
  const zpTensor = (name, zp) => tensor(name, T, [], act === 'uint8' ? Uint8Array.of(zp + shift) : Int8Array.of(zp));
  const nodes = [],
    inits = [];
  const qdq = (src, q, tag) => {
    inits.push(tensor(`${tag}_s`, FLOAT, [], Float32Array.of(q.scale)), zpTensor(`${tag}_z`, q.zp));
    nodes.push({ op_type: 'QuantizeLinear', name: `${tag}_q`, input: [src, `${tag}_s`, `${tag}_z`], output: [`${tag}_i`] });
    // Each consumer gets its own DequantizeLinear (ORT's QDQ fusion expects that).
    nodes.push({ op_type: 'DequantizeLinear', name: `${tag}_dq`, input: [`${tag}_i`, `${tag}_s`, `${tag}_z`], output: [`${tag}_f`] });
    return `${tag}_f`;
  };
  let x = qdq('input', net.layers[0].inQ, 'a0');
  net.layers.forEach((L, li) => {
    const n = L.name,
      cpg = L.cin / L.group;
    inits.push(
      tensor(`${n}_w`, INT8, [L.cout, cpg, L.k, L.k], L.wInt),
      tensor(`${n}_ws`, FLOAT, [L.cout], Float32Array.from(L.wScale)),
      tensor(`${n}_wz`, INT8, [L.cout], new Int8Array(L.cout)),
      tensor(`${n}_b`, INT32, [L.cout], L.bInt),
      tensor(`${n}_bs`, FLOAT, [L.cout], Float32Array.from(L.bScale)),
      tensor(`${n}_bz`, INT32, [L.cout], new Int32Array(L.cout)),
    );
    const axis0 = [{ name: 'axis', type: ATTR_INT, i: 0 }];
    nodes.push({ op_type: 'DequantizeLinear', name: `${n}_wdq`, input: [`${n}_w`, `${n}_ws`, `${n}_wz`], output: [`${n}_wf`], attribute: axis0 });
    nodes.push({ op_type: 'DequantizeLinear', name: `${n}_bdq`, input: [`${n}_b`, `${n}_bs`, `${n}_bz`], output: [`${n}_bf`], attribute: axis0 });
    const p = (L.k - 1) >> 1;
    nodes.push({
      op_type: 'Conv',
      name: `${n}_conv`,
      input: [x, `${n}_wf`, `${n}_bf`],
      output: [`${n}_y`],
      attribute: [
        { name: 'kernel_shape', type: ATTR_INTS, ints: [L.k, L.k] },
        { name: 'pads', type: ATTR_INTS, ints: [p, p, p, p] },
        { name: 'group', type: ATTR_INT, i: L.group },
      ],
    });
    let y = `${n}_y`;
    if (L.relu) {
      nodes.push({ op_type: 'Relu', name: `${n}_relu`, input: [y], output: [`${n}_r`] });
      y = `${n}_r`;
    }
    x = qdq(y, L.outQ, `a${li + 1}`);
  });
  nodes.push({ op_type: 'Identity', name: 'out', input: [x], output: ['output'] });
  const model = {
    ir_version: 8,
    producer_name: 'edgesight-arm64-smoke',
    opset_import: [{ domain: '', version: 17 }],
    graph: {
      name: `qdq_${act}`,
      node: nodes,
      initializer: inits,
      input: [valueInfo('input', FLOAT, net.dims)],
      output: [valueInfo('output', FLOAT, net.outDims)],
    },
  };
  const err = ModelProto.verify(model);
  if (err) throw new Error(`qdq.mjs: bad ONNX message: ${err}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

/** Output floats back to the int8 codes of the last layer (both variants dequantize to the same reals). */
export function toCodes(out, q) {
  return Int8Array.from(out, (v) => clamp(rne(v / q.scale) + q.zp, -128, 127));
}

/** Counts of the op types in an ONNX model (e.g. the one ORT saves after its graph optimizations). */
export function opTypes(bytes) {
  const m = ModelProto.toObject(ModelProto.decode(bytes), { defaults: false });
  const counts = {};
  for (const n of m.graph?.node ?? []) {
    const k = n.domain ? `${n.domain}.${n.op_type}` : n.op_type;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}
