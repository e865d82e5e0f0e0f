import { GraphBuilder, f } from '../onnx/builder.js';
import { DataType, type DataTypeCode, type OnnxGraph } from '../onnx/graph.js';
import { TfliteFormatError } from './flat.js';
import type { Activation, ConvOptions, PoolOptions, TfliteOperator, TfliteSubgraph, TfliteTensor } from './tflite-model.js';
import { BuiltinOperator, TensorType, tensorTypeName } from './tflite-schema.js';
import { dequantizeConst, permute, quantRange, rawValues, samePads } from './tensors.js';

export type ConvertForm = 'float' | 'qdq';

export interface ConvertOptions {
  /**
   * 'float': weights dequantized, every int8 saturation kept as a Clip (computes what the int8 model
   * computes, without its rounding). 'qdq': the source's own scales and zero points as QuantizeLinear /
   * DequantizeLinear pairs around float ops.
   */
  form: ConvertForm;
  /** QDQ activation type. uint8 (codes + 128, exact) lets ONNX Runtime on x86 fuse QLinear* kernels. */
  activationType?: 'uint8' | 'int8';
  /** ONNX input names in TFLite input order; default "image" for a single 4-D input, else the last name segment */
  inputNames?: string[];
  /** ONNX output names in TFLite output order; default the last segment of each TFLite name */
  outputNames?: string[];
  /** symbolic batch dimension name of inputs and outputs */
  batchDim?: string;
  /**
   * Float form only. The upstream int8 ranges of the class-logit tensors top out at or below 0, so kept
   * as Clips they cap every score near 0.5; by default their upper saturation is dropped (the lower one
   * and every other saturation stay). true reproduces the old capped graph, for comparison.
   */
  keepScoreCap?: boolean;
}

/** What the conversion decided, for the manifest's provenance. */
export interface ConvertReport {
  /** class-logit tensors (structurally: what feeds a LOGISTIC through concat/reshape/requantize) */
  classLogitTensors: string[];
  /** of those, the ones whose upper int8 saturation was dropped (empty with keepScoreCap or in qdq form) */
  uncappedTensors: string[];
}

/** Ops that move or requantize values without computing: a logit stays a logit through them. */
const LOGIT_PASS_OPS = new Set<number>([BuiltinOperator.CONCATENATION, BuiltinOperator.RESHAPE, BuiltinOperator.QUANTIZE]);

/**
 * The tensors that carry class logits: walking back from every LOGISTIC's input through
 * concatenations, reshapes and requantizations, down to (and including) the outputs of the ops that
 * compute them (the class-predictor convs). Box encodings never reach a LOGISTIC, so they are not found.
 */
export function classLogitTensors(sg: TfliteSubgraph): number[] {
  const producer = new Map<number, TfliteOperator>();
  for (const op of sg.operators) for (const o of op.outputs) if (o >= 0) producer.set(o, op);
  const found = new Set<number>();
  const stack: number[] = [];
  for (const op of sg.operators)
    if (op.builtinCode === BuiltinOperator.LOGISTIC && op.inputs[0] !== undefined && op.inputs[0] >= 0) stack.push(op.inputs[0]);
  while (stack.length) {
    const t = stack.pop()!;
    if (found.has(t)) continue;
    const p = producer.get(t);
    if (!p) continue; // a graph input or a constant: not a computed logit
    found.add(t);
    if (LOGIT_PASS_OPS.has(p.builtinCode)) for (const i of p.inputs) if (i >= 0 && !sg.tensors[i]?.data) stack.push(i);
  }
  return [...found].sort((a, b) => a - b);
}

type Layout = 'nchw' | 'plain';
interface Value {
  name: string;
  /** 'nchw': a 4-D TFLite NHWC tensor held transposed to NCHW; 'plain': same layout as TFLite */
  layout: Layout;
}

const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];

export const SUPPORTED_OPERATORS = [
  'CONV_2D',
  'DEPTHWISE_CONV_2D',
  'HARD_SWISH',
  'MUL',
  'ADD',
  'RESHAPE',
  'QUANTIZE',
  'AVERAGE_POOL_2D',
  'MAX_POOL_2D',
  'CONCATENATION',
  'LOGISTIC',
  'RELU',
  'RELU6',
] as const;

/** The graph plus what the conversion decided (class-logit saturations). */
export function tfliteToOnnx(sg: TfliteSubgraph, opts: ConvertOptions): { graph: OnnxGraph; report: ConvertReport } {
  return new Converter(sg, opts).run();
}

class Converter {
  private readonly b = GraphBuilder.empty('edgesight_tflite', 13);
  /** per TFLite tensor: its ONNX value (float in 'float' form, quantized in 'qdq' form) */
  private readonly values = new Map<number, Value>();
  private readonly qparamCache = new Map<number, { scale: string; zp: string }>();
  private readonly scalarCache = new Map<number, string>();
  private readonly qdq: boolean;
  private readonly actType: 'uint8' | 'int8';
  private readonly batch: string;
  /** tensors whose upper int8 saturation is not carried into the float graph */
  private readonly uncapped: Set<number>;
  private readonly logits: number[];

  constructor(
    private readonly sg: TfliteSubgraph,
    private readonly opts: ConvertOptions,
  ) {
    this.qdq = opts.form === 'qdq';
    this.actType = opts.activationType ?? 'uint8';
    this.batch = opts.batchDim ?? 'batch';
    this.b.graph.name = sg.name || 'main';
    this.logits = classLogitTensors(sg);
    this.uncapped = new Set(this.qdq || opts.keepScoreCap ? [] : this.logits);
  }

  run(): { graph: OnnxGraph; report: ConvertReport } {
    this.addInputs();
    for (const op of this.sg.operators) this.convertOp(op);
    this.addOutputs();
    const names = (ts: Iterable<number>): string[] => [...ts].map((i) => this.baseName(this.tensor(i)));
    return {
      graph: this.b.graph,
      report: { classLogitTensors: names(this.logits), uncappedTensors: names([...this.uncapped].sort((a, b) => a - b)) },
    };
  }

  // ---- tensors and layout --------------------------------------------------------------------------

  private tensor(i: number): TfliteTensor {
    const t = this.sg.tensors[i];
    if (!t) throw new TfliteFormatError(`tensor index ${i} out of range`);
    return t;
  }

  private baseName(t: TfliteTensor): string {
    const first = t.name.split(';')[0] ?? '';
    return first === '' ? `t${t.index}` : first;
  }

  private shapeOut(t: TfliteTensor): (number | string)[] {
    const s: (number | string)[] = t.shape.length === 4 ? (NHWC_TO_NCHW.map((p) => t.shape[p]) as number[]) : [...t.shape];
    if (s.length > 0) s[0] = this.batch;
    return s;
  }

  private addInputs(): void {
    const names = this.opts.inputNames;
    this.sg.inputs.forEach((ti, k) => {
      const t = this.tensor(ti);
      const name = names?.[k] ?? (this.sg.inputs.length === 1 && t.shape.length === 4 ? 'image' : lastSegment(t.name));
      this.b.input(name, DataType.FLOAT, this.shapeOut(t));
      const layout: Layout = t.shape.length === 4 ? 'nchw' : 'plain';
      if (!this.qdq || t.type === TensorType.FLOAT32) {
        if (this.qdq) throw new TfliteFormatError(`qdq form needs a quantized model; input ${t.name} is float32`);
        // The float graph takes the real value (e.g. RGB/127.5 − 1) and, like the reference, does not
        // saturate it at the int8 input's top code (0.992).
        this.values.set(ti, { name, layout });
        return;
      }
      const p = this.qparams(t);
      const q = this.b.op('QuantizeLinear', [name, p.scale, p.zp], `${this.baseName(t)}/quantized`);
      this.values.set(ti, { name: q, layout });
    });
  }

  private addOutputs(): void {
    const names = this.opts.outputNames;
    this.sg.outputs.forEach((ti, k) => {
      const t = this.tensor(ti);
      const want = names?.[k] ?? lastSegment(t.name);
      let v = this.value(ti);
      if (this.qdq) {
        const p = this.qparams(t);
        v = { name: this.b.op('DequantizeLinear', [v.name, p.scale, p.zp], `${want}/dq`), layout: v.layout };
      }
      this.renameValue(v.name, want);
      this.b.output(want, DataType.FLOAT, this.shapeOut(t));
    });
  }

  /** Gives a produced value its final (graph output) name. */
  private renameValue(from: string, to: string): void {
    if (from === to) return;
    if (this.b.names.has(to)) throw new Error(`output name ${to} collides with an existing name`);
    const producer = this.b.graph.nodes.find((n) => n.outputs.includes(from));
    if (!producer) {
      this.b.op('Identity', [from], to, {}, { exactOutputs: true });
      return;
    }
    this.b.names.reserve(to);
    producer.outputs = producer.outputs.map((o) => (o === from ? to : o));
    for (const n of this.b.graph.nodes) n.inputs = n.inputs.map((i) => (i === from ? to : i));
  }

  private value(ti: number): Value {
    const v = this.values.get(ti);
    if (!v) {
      const t = this.tensor(ti);
      if (t.data) throw new TfliteFormatError(`tensor ${ti} (${t.name}) is a constant where an activation was expected`);
      throw new TfliteFormatError(`tensor ${ti} (${t.name}) is used before any operator produces it`);
    }
    return v;
  }

  private transpose(v: Value, perm: number[], layout: Layout, base: string): Value {
    return { name: this.b.op('Transpose', [v.name], `${base}/${layout}`, { perm }), layout };
  }

  private asNchw(v: Value, rank: number, base: string): Value {
    if (v.layout === 'nchw') return v;
    if (rank !== 4) throw new Error(`${base}: cannot use a rank-${rank} tensor as an image`);
    return this.transpose(v, NHWC_TO_NCHW, 'nchw', base);
  }

  private asPlain(v: Value, base: string): Value {
    return v.layout === 'plain' ? v : this.transpose(v, NCHW_TO_NHWC, 'plain', base);
  }

  // ---- quantization parameters ----------------------------------------------------------------------

  private quant(t: TfliteTensor): { scale: number; zp: number } {
    const q = t.quantization;
    if (!q || q.scale.length !== 1) {
      throw new TfliteFormatError(`tensor ${t.index} (${t.name}): expected per-tensor quantization of an activation`);
    }
    return { scale: q.scale[0] as number, zp: q.zeroPoint[0] as number };
  }

  /** 0-d scale and zero point initializers for an activation tensor, in the chosen activation type. */
  private qparams(t: TfliteTensor): { scale: string; zp: string } {
    const cached = this.qparamCache.get(t.index);
    if (cached) return cached;
    quantRange(t.type, `tensor ${t.index} (${t.name})`);
    if (t.type !== TensorType.INT8 && t.type !== TensorType.UINT8) {
      throw new TfliteFormatError(`tensor ${t.index} (${t.name}): ${tensorTypeName(t.type)} activations are not supported in qdq form`);
    }
    const { scale, zp } = this.quant(t);
    const shift = t.type === TensorType.INT8 ? (this.actType === 'uint8' ? 128 : 0) : this.actType === 'int8' ? -128 : 0;
    const base = this.baseName(t);
    const zpName =
      this.actType === 'uint8'
        ? this.b.initializer(`${base}/zero_point`, DataType.UINT8, [], Uint8Array.of(zp + shift))
        : this.b.initializer(`${base}/zero_point`, DataType.INT8, [], Int8Array.of(zp + shift));
    const p = { scale: this.b.scalarF32(`${base}/scale`, scale), zp: zpName };
    this.qparamCache.set(t.index, p);
    return p;
  }

  /** A fresh DequantizeLinear for one consumer: ORT fuses per consumer, so consumers never share a DQ. */
  private dq(ti: number, layoutNeeded?: { rank4: 'nchw' | 'plain' }): Value {
    const t = this.tensor(ti);
    let v = this.value(ti);
    if (layoutNeeded?.rank4 === 'nchw') v = this.asNchw(v, t.shape.length, this.baseName(t));
    if (layoutNeeded?.rank4 === 'plain') v = this.asPlain(v, this.baseName(t));
    if (!this.qdq) return v;
    const p = this.qparams(t);
    return { name: this.b.op('DequantizeLinear', [v.name, p.scale, p.zp], `${this.baseName(t)}/dq`), layout: v.layout };
  }

  private scalar(value: number): string {
    const v = Math.fround(value);
    let name = this.scalarCache.get(v);
    if (!name) {
      name = this.b.scalarF32(`const_${String(v).replace(/[^0-9a-z.-]/gi, '_')}`, v);
      this.scalarCache.set(v, name);
    }
    return name;
  }

  /**
   * Ends an operator: applies its fused activation and then either clamps to the output tensor's int8
   * range (float form) or quantizes to it (qdq form). The activation is emitted only where it narrows
   * the representable range, so ORT sees a plain op → Q pattern in the common case.
   */
  private finish(y: Value, outIndex: number, act: Activation): void {
    const t = this.tensor(outIndex);
    const base = this.baseName(t);
    let [lo, hi] = activationRange(act);
    let name = y.name;
    if (t.quantization && t.type !== TensorType.FLOAT32) {
      const { scale, zp } = this.quant(t);
      const [qmin, qmax] = quantRange(t.type, `tensor ${outIndex} (${t.name})`);
      const rlo = Math.fround(scale * (qmin - zp));
      const rhi = Math.fround(scale * (qmax - zp));
      if (this.qdq) {
        const half = scale / 2;
        const needLo = lo > rlo + half;
        const needHi = hi < rhi - half;
        if (needLo && !needHi && lo === 0) name = this.b.op('Relu', [name], `${base}/act`);
        else if (needLo || needHi) name = this.b.op('Clip', [name, this.scalar(Math.max(lo, rlo)), this.scalar(Math.min(hi, rhi))], `${base}/act`);
        const p = this.qparams(t);
        this.values.set(outIndex, { name: this.b.op('QuantizeLinear', [name, p.scale, p.zp], `${base}/q`), layout: y.layout });
        return;
      }
      lo = Math.max(lo, rlo);
      // a class logit keeps its lower saturation only: its upper one is the int8 range's, not the op's
      if (!this.uncapped.has(outIndex)) hi = Math.min(hi, rhi);
    } else if (this.qdq) {
      throw new TfliteFormatError(`qdq form needs a quantized model; tensor ${outIndex} (${t.name}) is ${tensorTypeName(t.type)}`);
    }
    if (Number.isFinite(lo) || Number.isFinite(hi)) {
      if (lo === 0 && !Number.isFinite(hi)) name = this.b.op('Relu', [name], base);
      else name = this.b.op('Clip', [name, Number.isFinite(lo) ? this.scalar(lo) : '', Number.isFinite(hi) ? this.scalar(hi) : ''], base);
    }
    this.values.set(outIndex, { name, layout: y.layout });
  }

  // ---- constants ----------------------------------------------------------------------------------------

  /** A constant operand of an elementwise op, laid out to broadcast against `layout`. */
  private constOperand(ti: number, layout: Layout): string {
    const t = this.tensor(ti);
    let dims = [...t.shape];
    const where = `constant ${ti} (${t.name})`;
    let reorder: number[] | null = null;
    if (layout === 'nchw') {
      if (dims.length === 4) reorder = NHWC_TO_NCHW;
      else if (dims.length === 1) dims = [dims[0] as number, 1, 1];
      else if (dims.length !== 0 && dims.some((d) => d !== 1)) {
        throw new TfliteFormatError(`${where}: rank-${dims.length} constant against an image tensor is not supported`);
      }
    }
    const base = this.baseName(t);
    if (!this.qdq) {
      let data = dequantizeConst(t);
      if (reorder) ({ data, shape: dims } = permute(data, t.shape, reorder, (n) => new Float32Array(n)));
      return this.b.initializer(base, DataType.FLOAT, dims, data);
    }
    const q = t.quantization;
    if (!q || (t.type !== TensorType.INT8 && t.type !== TensorType.UINT8)) {
      throw new TfliteFormatError(`${where}: qdq form needs an int8/uint8 quantized constant, got ${tensorTypeName(t.type)}`);
    }
    if (q.scale.length !== 1) throw new TfliteFormatError(`${where}: per-channel elementwise constants are not supported`);
    let raw = rawValues(t);
    if (reorder) ({ data: raw, shape: dims } = permute(raw, t.shape, reorder, (n) => new Float64Array(n)));
    const int8 = t.type === TensorType.INT8;
    const data = int8 ? Int8Array.from(raw) : Uint8Array.from(raw);
    const dt: DataTypeCode = int8 ? DataType.INT8 : DataType.UINT8;
    const qn = this.b.initializer(`${base}/quantized`, dt, dims, data);
    const zp = this.b.initializer(
      `${base}/zero_point`,
      dt,
      [],
      int8 ? Int8Array.of(q.zeroPoint[0] as number) : Uint8Array.of(q.zeroPoint[0] as number),
    );
    return this.b.op('DequantizeLinear', [qn, this.b.scalarF32(`${base}/scale`, q.scale[0] as number), zp], `${base}/dq`);
  }

  /** Conv weights OHWI → OIHW, depthwise [1,H,W,C·M] → [C·M,1,H,W]; per-channel along ONNX axis 0. */
  private convWeight(ti: number, depthwise: boolean): string {
    const t = this.tensor(ti);
    const where = `weights ${ti} (${t.name})`;
    if (t.shape.length !== 4) throw new TfliteFormatError(`${where}: expected rank 4, got ${JSON.stringify(t.shape)}`);
    const perm = depthwise ? [3, 0, 1, 2] : [0, 3, 1, 2];
    const base = this.baseName(t);
    const q = t.quantization;
    const perChannel = q !== null && q.scale.length > 1;
    if (perChannel && q.quantizedDimension !== (depthwise ? 3 : 0)) {
      throw new TfliteFormatError(`${where}: per-channel quantization on dimension ${q.quantizedDimension} is not supported`);
    }
    if (!this.qdq) {
      const { data, shape } = permute(dequantizeConst(t), t.shape, perm, (n) => new Float32Array(n));
      return this.b.initializer(base, DataType.FLOAT, shape, data);
    }
    if (!q || (t.type !== TensorType.INT8 && t.type !== TensorType.UINT8)) {
      throw new TfliteFormatError(`${where}: qdq form needs int8/uint8 weights, got ${tensorTypeName(t.type)}`);
    }
    const int8 = t.type === TensorType.INT8;
    const { data: raw, shape } = permute(rawValues(t), t.shape, perm, (n) => new Float64Array(n));
    const dt: DataTypeCode = int8 ? DataType.INT8 : DataType.UINT8;
    const w = this.b.initializer(`${base}/quantized`, dt, shape, int8 ? Int8Array.from(raw) : Uint8Array.from(raw));
    const n = q.scale.length;
    const dims = perChannel ? [n] : [];
    const scale = this.b.initializer(`${base}/scale`, DataType.FLOAT, dims, Float32Array.from(q.scale));
    const zp = this.b.initializer(`${base}/zero_point`, dt, dims, int8 ? Int8Array.from(q.zeroPoint) : Uint8Array.from(q.zeroPoint));
    return this.b.op('DequantizeLinear', [w, scale, zp], `${base}/dq`, perChannel ? { axis: 0 } : {});
  }

  private convBias(ti: number, inputIndex: number, weightIndex: number): string {
    const t = this.tensor(ti);
    const base = this.baseName(t);
    if (!this.qdq) return this.b.initializer(base, DataType.FLOAT, [...t.shape], dequantizeConst(t));
    const where = `bias ${ti} (${t.name})`;
    const q = t.quantization;
    if (t.type !== TensorType.INT32 || !q) throw new TfliteFormatError(`${where}: qdq form needs an int32 quantized bias`);
    // QLinearConv applies an int32 bias at scale = input scale × weight scale; check the file agrees.
    const inScale = this.quant(this.tensor(inputIndex)).scale;
    const wq = this.tensor(weightIndex).quantization;
    if (!wq) throw new TfliteFormatError(`weights ${weightIndex}: not quantized`);
    q.scale.forEach((s, c) => {
      const expect = Math.fround(inScale * (wq.scale.length > 1 ? (wq.scale[c] as number) : (wq.scale[0] as number)));
      if (Math.abs(s - expect) > 1e-6 * Math.abs(expect)) {
        throw new TfliteFormatError(`${where}: channel ${c} scale ${s} ≠ input scale × weight scale ${expect}`);
      }
      if (q.zeroPoint[c] !== 0) throw new TfliteFormatError(`${where}: channel ${c} has zero point ${q.zeroPoint[c]}, expected 0`);
    });
    const data = Int32Array.from(rawValues(t));
    const dims = q.scale.length > 1 ? [q.scale.length] : [];
    const qb = this.b.initializer(`${base}/quantized`, DataType.INT32, [...t.shape], data);
    const scale = this.b.initializer(`${base}/scale`, DataType.FLOAT, dims, Float32Array.from(q.scale));
    const zp = this.b.initializer(`${base}/zero_point`, DataType.INT32, dims, new Int32Array(q.scale.length));
    return this.b.op('DequantizeLinear', [qb, scale, zp], `${base}/dq`, dims.length ? { axis: 0 } : {});
  }

  // ---- operators ------------------------------------------------------------------------------------------

  private convertOp(op: TfliteOperator): void {
    const where = `operator ${op.index} (${op.opName})`;
    try {
      this.convertOpInner(op);
    } catch (err) {
      const e = err as Error;
      if (e.message.startsWith('operator ')) throw e;
      throw new (e instanceof TfliteFormatError ? TfliteFormatError : Error)(`${where}: ${e.message}`);
    }
  }

  private convertOpInner(op: TfliteOperator): void {
    const out = op.outputs[0];
    if (out === undefined) throw new TfliteFormatError('operator has no output');
    const o = op.options;
    switch (op.builtinCode) {
      case BuiltinOperator.CONV_2D:
      case BuiltinOperator.DEPTHWISE_CONV_2D:
        if (o.kind !== 'conv') throw new TfliteFormatError('missing conv options');
        return this.conv(op, o, op.builtinCode === BuiltinOperator.DEPTHWISE_CONV_2D);
      case BuiltinOperator.AVERAGE_POOL_2D:
      case BuiltinOperator.MAX_POOL_2D:
        if (o.kind !== 'pool') throw new TfliteFormatError('missing pool options');
        return this.pool(op, o, op.builtinCode === BuiltinOperator.AVERAGE_POOL_2D);
      case BuiltinOperator.ADD:
      case BuiltinOperator.MUL:
        return this.binary(op, op.builtinCode === BuiltinOperator.ADD ? 'Add' : 'Mul', o.kind === 'elementwise' ? o.activation : 'none');
      case BuiltinOperator.HARD_SWISH: {
        // Two DQs (one per consumer) in qdq form; the same value in float form.
        const x = this.dq(this.in(op, 0));
        const x2 = this.dq(this.in(op, 0));
        const base = this.baseName(this.tensor(out));
        // HardSigmoid(x) = max(0, min(1, x/6 + 0.5)) = relu6(x + 3)/6; opset 13 has no HardSwish.
        const h = this.b.op('HardSigmoid', [x.name], `${base}/hsig`, { alpha: f(1 / 6) });
        const y = this.b.op('Mul', [x2.name, h], `${base}/hswish`);
        return this.finish({ name: y, layout: x.layout }, out, 'none');
      }
      case BuiltinOperator.LOGISTIC:
        return this.unary(op, 'Sigmoid', 'none');
      case BuiltinOperator.RELU:
        return this.passThrough(op, 'relu');
      case BuiltinOperator.RELU6:
        return this.passThrough(op, 'relu6');
      case BuiltinOperator.QUANTIZE:
        return this.passThrough(op, 'none');
      case BuiltinOperator.CONCATENATION:
        if (o.kind !== 'concat') throw new TfliteFormatError('missing concatenation options');
        return this.concat(op, o.axis, o.activation);
      case BuiltinOperator.RESHAPE:
        return this.reshape(op);
      default:
        throw new TfliteFormatError(`unsupported operator ${op.opName} at index ${op.index} (supported: ${SUPPORTED_OPERATORS.join(', ')})`);
    }
  }

  private in(op: TfliteOperator, k: number): number {
    const i = op.inputs[k];
    if (i === undefined || i < 0) throw new TfliteFormatError(`missing input ${k}`);
    return i;
  }

  private conv(op: TfliteOperator, o: ConvOptions, depthwise: boolean): void {
    const xi = this.in(op, 0);
    const wi = this.in(op, 1);
    const bi = op.inputs[2];
    const xt = this.tensor(xi);
    const wt = this.tensor(wi);
    const out = op.outputs[0] as number;
    if (xt.shape.length !== 4) throw new TfliteFormatError(`input must be NHWC rank 4, got ${JSON.stringify(xt.shape)}`);
    if (!wt.data) throw new TfliteFormatError('non-constant weights are not supported');
    const [, inH, inW, inC] = xt.shape as [number, number, number, number];
    const kH = wt.shape[1] as number;
    const kW = wt.shape[2] as number;
    const pads =
      o.padding === 'same'
        ? (() => {
            const [t, bo] = samePads(inH, kH, o.strideH, o.dilationH);
            const [l, r] = samePads(inW, kW, o.strideW, o.dilationW);
            return [t, l, bo, r];
          })()
        : [0, 0, 0, 0];
    const x = this.dq(xi, { rank4: 'nchw' });
    const inputs = [x.name, this.convWeight(wi, depthwise)];
    if (bi !== undefined && bi >= 0) inputs.push(this.convBias(bi, xi, wi));
    const y = this.b.op('Conv', inputs, `${this.baseName(this.tensor(out))}/conv`, {
      kernel_shape: [kH, kW],
      strides: [o.strideH, o.strideW],
      dilations: [o.dilationH, o.dilationW],
      pads,
      group: depthwise ? inC : 1,
    });
    this.finish({ name: y, layout: 'nchw' }, out, o.activation);
  }

  private pool(op: TfliteOperator, o: PoolOptions, average: boolean): void {
    const xi = this.in(op, 0);
    const xt = this.tensor(xi);
    const out = op.outputs[0] as number;
    const ot = this.tensor(out);
    const [, inH, inW] = xt.shape as [number, number, number, number];
    const x = this.dq(xi, { rank4: 'nchw' });
    const base = this.baseName(ot);
    const global = o.filterH >= inH && o.filterW >= inW && ot.shape[1] === 1 && ot.shape[2] === 1 && o.padding === 'valid';
    let y: string;
    if (global) {
      y = this.b.op(average ? 'GlobalAveragePool' : 'GlobalMaxPool', [x.name], `${base}/pool`);
    } else {
      const [t, bo] = o.padding === 'same' ? samePads(inH, o.filterH, o.strideH, 1) : [0, 0];
      const [l, r] = o.padding === 'same' ? samePads(inW, o.filterW, o.strideW, 1) : [0, 0];
      // TFLite averages over the valid (unpadded) pixels only.
      y = this.b.op(average ? 'AveragePool' : 'MaxPool', [x.name], `${base}/pool`, {
        kernel_shape: [o.filterH, o.filterW],
        strides: [o.strideH, o.strideW],
        pads: [t, l, bo, r],
        ...(average ? { count_include_pad: 0 } : {}),
      });
    }
    this.finish({ name: y, layout: 'nchw' }, out, o.activation);
  }

  private binary(op: TfliteOperator, onnxOp: 'Add' | 'Mul', act: Activation): void {
    const [ai, bi] = [this.in(op, 0), this.in(op, 1)];
    const out = op.outputs[0] as number;
    const at = this.tensor(ai);
    const bt = this.tensor(bi);
    const aConst = at.data !== null;
    const bConst = bt.data !== null;
    if (aConst && bConst) throw new TfliteFormatError('both operands are constants');
    let layout: Layout;
    let names: [string, string];
    if (aConst || bConst) {
      const vi = aConst ? bi : ai;
      const v = this.dq(vi);
      layout = v.layout;
      const c = this.constOperand(aConst ? ai : bi, layout);
      names = aConst ? [c, v.name] : [v.name, c];
    } else {
      const anyNchw = this.value(ai).layout === 'nchw' || this.value(bi).layout === 'nchw';
      const rank4 = at.shape.length === 4 && bt.shape.length === 4;
      const want = anyNchw && rank4 ? 'nchw' : 'plain';
      const a = this.dq(ai, { rank4: want });
      const b2 = this.dq(bi, { rank4: want });
      layout = want;
      names = [a.name, b2.name];
    }
    const y = this.b.op(onnxOp, names, `${this.baseName(this.tensor(out))}/${onnxOp.toLowerCase()}`);
    this.finish({ name: y, layout }, out, act);
  }

  private unary(op: TfliteOperator, onnxOp: string, act: Activation): void {
    const x = this.dq(this.in(op, 0));
    const out = op.outputs[0] as number;
    const y = this.b.op(onnxOp, [x.name], `${this.baseName(this.tensor(out))}/${onnxOp.toLowerCase()}`);
    this.finish({ name: y, layout: x.layout }, out, act);
  }

  /** QUANTIZE (requantize), RELU, RELU6: in float form only the clamp remains; in qdq form DQ → Q. */
  private passThrough(op: TfliteOperator, act: Activation): void {
    const xi = this.in(op, 0);
    const out = op.outputs[0] as number;
    const xt = this.tensor(xi);
    if (this.qdq && xt.type === TensorType.FLOAT32) {
      const v = this.value(xi);
      return this.finish(v, out, act);
    }
    this.finish(this.dq(xi), out, act);
  }

  private concat(op: TfliteOperator, axis: number, act: Activation): void {
    const out = op.outputs[0] as number;
    const rank = this.tensor(out).shape.length;
    const ax = axis < 0 ? axis + rank : axis;
    const allNchw = rank === 4 && op.inputs.every((i) => this.value(i).layout === 'nchw');
    const anyNchw = rank === 4 && op.inputs.some((i) => this.value(i).layout === 'nchw');
    const want: Layout = allNchw || (anyNchw && ax === 3) ? 'nchw' : 'plain';
    const xs = op.inputs.map((i) => this.dq(i, { rank4: want }).name);
    const onnxAxis = want === 'nchw' ? NHWC_TO_NCHW.indexOf(ax) : ax;
    const y = this.b.op('Concat', xs, `${this.baseName(this.tensor(out))}/concat`, { axis: onnxAxis });
    this.finish({ name: y, layout: want }, out, act);
  }

  private reshape(op: TfliteOperator): void {
    const xi = this.in(op, 0);
    const out = op.outputs[0] as number;
    const xt = this.tensor(xi);
    const ot = this.tensor(out);
    let v = this.asPlain(this.value(xi), this.baseName(xt));
    // Keep the batch dimension free so the graph accepts N images, as the inputs declare.
    const target = [...ot.shape];
    if (target.length >= 1 && target[0] === 1 && xt.shape[0] === 1) target[0] = -1;
    const shape = this.b.int64s(`${this.baseName(ot)}/shape`, target);
    v = { name: this.b.op('Reshape', [v.name, shape], `${this.baseName(ot)}`), layout: 'plain' };
    if (!this.qdq) return void this.values.set(out, v);
    // Reshape moves int8 codes unchanged; requantize only if the file gives the output other parameters.
    const a = this.quant(xt);
    const b = this.quant(ot);
    if (a.scale === b.scale && a.zp === b.zp && xt.type === ot.type) return void this.values.set(out, v);
    const p = this.qparams(xt);
    const d = this.b.op('DequantizeLinear', [v.name, p.scale, p.zp], `${this.baseName(ot)}/dq`);
    this.finish({ name: d, layout: 'plain' }, out, 'none');
  }
}

function activationRange(act: Activation): [number, number] {
  switch (act) {
    case 'none':
      return [-Infinity, Infinity];
    case 'relu':
      return [0, Infinity];
    case 'relu6':
      return [0, 6];
    case 'relu_n1_to_1':
      return [-1, 1];
  }
}

function lastSegment(name: string): string {
  const first = name.split(';')[0] ?? name;
  const parts = first.split('/');
  return parts[parts.length - 1] || first;
}
