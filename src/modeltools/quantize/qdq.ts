import { GraphBuilder } from '../onnx/builder.js';
import { DataType, indexGraph, type OnnxGraph, type OnnxNode, type OnnxTensor } from '../onnx/graph.js';
import { ACT_OPS, dataInputs, type QuantPlan } from './plan.js';

export type ActivationType = 'uint8' | 'int8';

/** Affine parameters of one activation tensor: real = (q − zeroPoint) · scale. */
export interface ActParams {
  scale: number;
  zeroPoint: number;
  type: ActivationType;
}

/**
 * Asymmetric per-tensor parameters for a [lo, hi] range containing 0. int8 codes are the uint8 codes
 * minus 128 with the same scale (MODELS.md: that is exact), so the choice of type changes no value.
 */
export function activationParams(lo: number, hi: number, type: ActivationType): ActParams {
  if (!(lo <= 0 && hi >= 0)) throw new Error(`activation range [${lo}, ${hi}] must contain 0`);
  const span = hi - lo;
  // float32, as stored in the file, so codes and int32 biases are computed against the value ORT uses
  const scale = Math.fround(span > 0 ? span / 255 : 1);
  const zp = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint: type === 'uint8' ? zp : zp - 128, type };
}

/** Symmetric per-output-channel int8 weights (axis 0), codes in −127..127. */
export function quantizeWeightsPerChannel(w: Float32Array, dims: number[]): { q: Int8Array; scales: Float32Array } {
  const cout = dims[0];
  if (!cout || w.length % cout !== 0) throw new Error(`weight of shape ${JSON.stringify(dims)} cannot be split per channel`);
  const per = w.length / cout;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(cout);
  for (let c = 0; c < cout; c++) {
    let m = 0;
    for (let i = c * per; i < (c + 1) * per; i++) m = Math.max(m, Math.abs(w[i]));
    // a float32 scale, so the value ORT multiplies with is the one the codes were rounded against
    const s = Math.fround(m > 0 ? m / 127 : 1);
    scales[c] = s;
    for (let i = c * per; i < (c + 1) * per; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i] / s)));
  }
  return { q, scales };
}

function floatInitializer(graph: OnnxGraph, name: string): OnnxTensor | undefined {
  const t = graph.initializers.find((x) => x.name === name);
  if (t && t.dataType === DataType.FLOAT) return t;
  const c = graph.nodes.find((n) => n.opType === 'Constant' && n.outputs[0] === name);
  const v = c?.attributes['value'];
  if (v?.type === 'tensor' && v.value.dataType === DataType.FLOAT) return v.value;
  return undefined;
}

export interface QdqResult {
  graph: OnnxGraph;
  /** quantized tensor → the Q node output holding its codes (for probes) */
  codes: Map<string, string>;
  /** quantized tensor → the scale and zero-point initializers */
  paramNames: Map<string, { scale: string; zeroPoint: string }>;
  /** Relu/Clip nodes removed because their Q saturates at (or inside) the same bounds */
  folded: string[];
  /** HardSigmoid nodes rewritten as a quantized Add (an integer kernel instead of a float island) */
  hardSigmoids: string[];
}

/**
 * Rewrites a float graph (edited in place) into QDQ form following the plan: one Q per quantized tensor
 * right after its producer, one DQ per consumer right before it, per-channel int8 Conv weights and int32
 * biases (scale = input scale × weight scale), constants of quantized Add/Mul/Concat in the activation type.
 */
export function insertQdq(graph: OnnxGraph, plan: QuantPlan, params: Map<string, ActParams>, type: ActivationType): QdqResult {
  const b = new GraphBuilder(graph);
  const qType = (p: ActParams): typeof DataType.UINT8 | typeof DataType.INT8 => (p.type === 'uint8' ? DataType.UINT8 : DataType.INT8);
  const quantized = new Set(plan.tensors);
  const paramsOf = (t: string): ActParams => {
    const r = plan.root.get(t) ?? t;
    const p = params.get(r);
    if (!p) throw new Error(`no quantization parameters for tensor ${t} (root ${r})`);
    return p;
  };
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const { initializer } = indexGraph(graph);

  // scale / zero-point initializers per root (shared by its Q, its DQs and every tensor that reuses them)
  const paramNames = new Map<string, { scale: string; zeroPoint: string }>();
  const paramInits = (t: string): { scale: string; zeroPoint: string } => {
    const r = plan.root.get(t) ?? t;
    let n = paramNames.get(r);
    if (!n) {
      const p = paramsOf(r);
      const zpData = p.type === 'uint8' ? Uint8Array.of(p.zeroPoint) : Int8Array.of(p.zeroPoint);
      n = { scale: b.scalarF32(`${r}/scale`, p.scale), zeroPoint: b.initializer(`${r}/zero_point`, qType(p), [], zpData) };
      paramNames.set(r, n);
    }
    paramNames.set(t, n);
    return n;
  };

  const oldNodes = graph.nodes;
  graph.nodes = [];
  const codes = new Map<string, string>();
  /** float tensor name as produced (a graph output's producer writes a renamed tensor) */
  const produced = new Map<string, string>();
  const original = new Map<string, string>();

  const emitQ = (t: string): void => {
    const pn = paramInits(t);
    const src = produced.get(t) ?? t;
    codes.set(t, b.op('QuantizeLinear', [src, pn.scale, pn.zeroPoint], `${t}/q`, {}, { name: `${t}/QuantizeLinear` }));
  };
  const dq = (t: string): string => {
    const q = codes.get(t);
    if (!q) throw new Error(`internal: tensor ${t} is read before it is quantized`);
    const pn = paramInits(t);
    return b.op('DequantizeLinear', [q, pn.scale, pn.zeroPoint], `${t}/dq`, {}, { name: `${t}/DequantizeLinear` });
  };

  const constCodes = new Map<string, { q: string; scale: string; zeroPoint: string }>();
  const quantizeConstant = (name: string, type: ActivationType): string | null => {
    const t = floatInitializer(graph, name);
    if (!t) return null;
    let c = constCodes.get(name);
    if (!c) {
      let lo = 0;
      let hi = 0;
      for (const v of t.data as Float32Array) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      const p = activationParams(lo, hi, type);
      const codesArr = type === 'uint8' ? new Uint8Array(t.data.length) : new Int8Array(t.data.length);
      const [qmin, qmax] = type === 'uint8' ? [0, 255] : [-128, 127];
      (t.data as Float32Array).forEach((v, i) => (codesArr[i] = Math.max(qmin, Math.min(qmax, Math.round(v / p.scale) + p.zeroPoint))));
      c = {
        q: b.initializer(`${name}/quantized`, type === 'uint8' ? DataType.UINT8 : DataType.INT8, [...t.dims], codesArr),
        scale: b.scalarF32(`${name}/scale`, p.scale),
        zeroPoint: b.initializer(
          `${name}/zero_point`,
          type === 'uint8' ? DataType.UINT8 : DataType.INT8,
          [],
          type === 'uint8' ? Uint8Array.of(p.zeroPoint) : Int8Array.of(p.zeroPoint),
        ),
      };
      constCodes.set(name, c);
    }
    return b.op('DequantizeLinear', [c.q, c.scale, c.zeroPoint], `${name}/dq`, {}, { name: `${name}/DequantizeLinear` });
  };

  const weightDq = (conv: OnnxNode, inScale: number): void => {
    const wName = conv.inputs[1] ?? '';
    const w = initializer.get(wName);
    if (!w || w.dataType !== DataType.FLOAT) throw new Error(`Conv ${conv.name}: weight ${wName} is not a float initializer`);
    const { q, scales } = quantizeWeightsPerChannel(w.data as Float32Array, w.dims);
    const cout = w.dims[0];
    const wq = b.initializer(`${wName}/quantized`, DataType.INT8, [...w.dims], q);
    const ws = b.initializer(`${wName}/scale`, DataType.FLOAT, [cout], scales);
    const wz = b.initializer(`${wName}/zero_point`, DataType.INT8, [cout], new Int8Array(cout));
    conv.inputs[1] = b.op('DequantizeLinear', [wq, ws, wz], `${wName}/dq`, { axis: 0 }, { name: `${wName}/DequantizeLinear` });
    const bName = conv.inputs[2] ?? '';
    if (!bName) return;
    const bias = initializer.get(bName);
    if (!bias || bias.dataType !== DataType.FLOAT || bias.data.length !== cout)
      throw new Error(`Conv ${conv.name}: bias ${bName} is not a float initializer of ${cout} values`);
    const bs = new Float32Array(cout);
    const bq = new Int32Array(cout);
    for (let c = 0; c < cout; c++) {
      bs[c] = Math.fround(inScale * scales[c]);
      bq[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round((bias.data as Float32Array)[c] / bs[c])));
    }
    const bqn = b.initializer(`${bName}/quantized`, DataType.INT32, [cout], bq);
    const bsn = b.initializer(`${bName}/scale`, DataType.FLOAT, [cout], bs);
    const bzn = b.initializer(`${bName}/zero_point`, DataType.INT32, [cout], new Int32Array(cout));
    conv.inputs[2] = b.op('DequantizeLinear', [bqn, bsn, bzn], `${bName}/dq`, { axis: 0 }, { name: `${bName}/DequantizeLinear` });
  };

  /**
   * A Relu/Clip between an op and its Q is dropped when the Q's representable range lies inside the
   * activation's bounds (the Q saturates the same way). ORT would fold it too, but its in-session folding
   * after a binary op has produced duplicate node names; doing it here keeps the graph plain.
   */
  const foldActivation = (n: OnnxNode): boolean => {
    if (n.opType !== 'Relu' && n.opType !== 'Clip') return false;
    const out = n.outputs[0] ?? '';
    const src = n.inputs[0] ?? '';
    if (!quantized.has(out) || quantized.has(src) || graphOutputs.has(out) || graphOutputs.has(src)) return false;
    const prod = graph.nodes.find((x) => x.outputs.includes(src));
    if (!prod || (consumerCount.get(src) ?? 0) !== 1) return false;
    const bound = (k: number, dflt: number): number | null => {
      const name = n.inputs[k] ?? '';
      if (name === '') return dflt;
      const t = floatInitializer(graph, name);
      return t && t.data.length === 1 ? (t.data as Float32Array)[0] : null;
    };
    const lo = n.opType === 'Relu' ? 0 : bound(1, -Infinity);
    const hi = n.opType === 'Relu' ? Infinity : bound(2, Infinity);
    if (lo === null || hi === null) return false;
    const p = paramsOf(out);
    const [qmin, qmax] = p.type === 'uint8' ? [0, 255] : [-128, 127];
    const tol = p.scale / 2;
    if ((qmin - p.zeroPoint) * p.scale < lo - tol || (qmax - p.zeroPoint) * p.scale > hi + tol) return false;
    prod.outputs = prod.outputs.map((o) => (o === src ? out : o));
    emitQ(out);
    folded.push(n.name);
    return true;
  };
  const consumerCount = new Map<string, number>();
  for (const n of oldNodes) for (const i of n.inputs) consumerCount.set(i, (consumerCount.get(i) ?? 0) + 1);
  const folded: string[] = [];
  const hardSigmoids: string[] = [];
  /** an op output that gets a Q: quantized itself, or read only by a Relu/Clip whose output is (and which folds) */
  const quantizedOut = (t: string): boolean =>
    quantized.has(t) ||
    ((consumerCount.get(t) ?? 0) === 1 && oldNodes.some((a) => ACT_OPS.has(a.opType) && a.inputs[0] === t && quantized.has(a.outputs[0] ?? '')));

  /**
   * h-swish = x · HardSigmoid(x) has no integer kernel in ONNX Runtime: DequantizeLinear → HardSigmoid → Mul
   * → QuantizeLinear runs a float pass over the whole map. HardSigmoid(x) = clip(αx + β, 0, 1) =
   * α · clip(x + β/α, 0, 1/α), so it becomes Add(x, β/α) quantized over [0, 1/α] (the 8-bit range does the
   * clipping) and read back with scale α·(1/α)/255 = 1/255: DQ → Add → Q fuses into QLinearAdd and the Mul's
   * DQ → Mul → Q into QLinearMul. On a 240×20×20 map: 0.93 M → 0.51 M ARM instructions (Cortex-A72 and
   * A76, docs/arm-performance.md). The gate is rounded to 1/255 (the float island keeps it exact), so an
   * output code moves by at most one step on a few percent of elements.
   */
  const hardSigmoidAsAdd = (n: OnnxNode): boolean => {
    if (n.opType !== 'HardSigmoid' || !quantized.has(n.inputs[0] ?? '')) return false;
    const out = n.outputs[0] ?? '';
    if (quantized.has(out) || graphOutputs.has(out)) return false;
    const readers = oldNodes.filter((x) => x.inputs.includes(out));
    // the product must be quantized (directly, or through a Relu/Clip folded into its Q): then the Mul fuses
    if (readers.length === 0 || !readers.every((r) => r.opType === 'Mul' && r.outputs.some(quantizedOut))) return false;
    const attr = (k: string, dflt: number): number => {
      const a = n.attributes[k];
      return a?.type === 'float' ? a.value : dflt;
    };
    const alpha = attr('alpha', 0.2);
    const beta = attr('beta', 0.5);
    if (!(alpha > 0 && beta > 0 && beta < 1)) return false;
    const p = paramsOf(n.inputs[0] ?? '');
    const qt = p.type === 'uint8' ? DataType.UINT8 : DataType.INT8;
    const qmin = p.type === 'uint8' ? 0 : -128;
    const zp = (v: number): Uint8Array | Int8Array => (p.type === 'uint8' ? Uint8Array.of(v) : Int8Array.of(v));
    const base = out;
    // in float32 as ORT computes: α = 1/6 is stored as 0.16666667, and β/α, 1/α then round back to 3 and 6
    const shift = Math.fround(beta / alpha);
    const span = Math.fround(1 / alpha);
    // the offset β/α, exactly representable: the top code of a [0, β/α] range
    const offset = b.op(
      'DequantizeLinear',
      [
        b.initializer(`${base}/offset/quantized`, qt, [], zp(qmin + 255)),
        b.scalarF32(`${base}/offset/scale`, shift / 255),
        b.initializer(`${base}/offset/zero_point`, qt, [], zp(qmin)),
      ],
      `${base}/offset/dq`,
      {},
      { name: `${base}/offset/DequantizeLinear` },
    );
    const sum = b.op('Add', [dq(n.inputs[0] ?? ''), offset], `${base}/shifted`, {}, { name: `${base}/Add` });
    const zpName = b.initializer(`${base}/zero_point`, qt, [], zp(qmin));
    const codesOut = b.op(
      'QuantizeLinear',
      [sum, b.scalarF32(`${base}/shifted/scale`, span / 255), zpName],
      `${base}/q`,
      {},
      { name: `${base}/QuantizeLinear` },
    );
    graph.nodes.push({
      name: b.names.node(`${base}/DequantizeLinear`),
      opType: 'DequantizeLinear',
      domain: '',
      inputs: [codesOut, b.scalarF32(`${base}/scale`, 1 / 255), zpName],
      outputs: [out],
      attributes: {},
    });
    hardSigmoids.push(n.name);
    return true;
  };

  for (const v of graph.inputs) if (quantized.has(v.name)) emitQ(v.name);
  for (const n of oldNodes) {
    if (hardSigmoidAsAdd(n)) continue;
    const data = new Set(dataInputs(n));
    const convInput = n.inputs[0] ?? '';
    n.inputs = n.inputs.map((inp, k) => {
      if (inp === '') return inp;
      if (quantized.has(inp)) return dq(inp);
      // a constant operand of a quantized Add/Mul/Concat is quantized too, so the op can fuse (also when a
      // Relu/Clip after it carries the Q, as in h-sigmoid = Mul(Clip(Add(x, 3), 0, 6), 1/6))
      if (data.has(k) && (n.opType === 'Add' || n.opType === 'Mul' || n.opType === 'Concat') && n.outputs.some(quantizedOut)) {
        return quantizeConstant(inp, type) ?? inp;
      }
      return inp;
    });
    if (plan.convs.has(n)) weightDq(n, paramsOf(convInput).scale);
    // graph outputs keep their names: the producer writes a fresh tensor, the last DQ writes the output
    n.outputs = n.outputs.map((o) => {
      if (!quantized.has(o) || !graphOutputs.has(o)) return o;
      const fresh = b.names.value(`${o}/float`);
      produced.set(o, fresh);
      original.set(fresh, o);
      return fresh;
    });
    if (foldActivation(n)) continue;
    graph.nodes.push(n);
    for (const o of n.outputs) {
      const orig = original.get(o) ?? o;
      if (quantized.has(orig)) emitQ(orig);
    }
  }
  for (const o of graph.outputs) {
    if (!produced.has(o.name)) continue;
    const pn = paramInits(o.name);
    // the output name is already taken (by the original producer), so this node is added by hand
    graph.nodes.push({
      name: b.names.node(`${o.name}/DequantizeLinear`),
      opType: 'DequantizeLinear',
      domain: '',
      inputs: [codes.get(o.name)!, pn.scale, pn.zeroPoint],
      outputs: [o.name],
      attributes: {},
    });
  }

  // float weights and constants no longer read by anything
  const used = new Set<string>();
  for (const n of graph.nodes) for (const i of n.inputs) used.add(i);
  for (const o of graph.outputs) used.add(o.name);
  graph.nodes = graph.nodes.filter((n) => n.opType !== 'Constant' || n.outputs.some((o) => used.has(o)));
  graph.initializers = graph.initializers.filter((t) => used.has(t.name));
  graph.inputs = graph.inputs.filter((v) => used.has(v.name) || !initializer.has(v.name));
  return { graph, codes, paramNames, folded, hardSigmoids };
}
