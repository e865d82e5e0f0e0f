import { performance } from 'node:perf_hooks';
import { indexGraph, type OnnxGraph } from '../onnx/graph.js';
import { loadOnnx, saveOnnx } from '../onnx/io.js';
import { inferShapes } from '../onnx/shapes.js';
import { TensorHistogram, type RangeMethod } from './histogram.js';
import { planQuantization } from './plan.js';
import { globToRegExp } from './profiles.js';
import { ChannelRanges, depthwiseReader, quantizeDepthwiseInput } from './depthwise-input.js';
import { activationParams, insertQdq, type ActParams, type ActivationType } from './qdq.js';
import { ProbeRunner } from './runner.js';

export interface QuantizeOptions {
  /** uint8 fuses into QLinear kernels on x86; int8 is ARM's native form (MODELS.md). Default uint8. */
  activationType?: ActivationType;
  /** default range method (default percentile) */
  method?: RangeMethod;
  /** for `percentile`, e.g. 99.99 */
  percentile?: number;
  /** tensor or node names (globs with `*`) kept in float */
  exclude?: string[];
  /** range method per tensor pattern, first match wins */
  methodOverrides?: Array<{ pattern: string; method: RangeMethod }>;
  /**
   * float tensors (kept float by `exclude`, globs) whose only reader is a depthwise Conv: quantized per channel
   * so that conv runs as an integer kernel (depthwise-input.ts)
   */
  perChannelDepthwise?: string[];
  /** for the `frames` method: which quantile (in %) of the inputs' own extremes sets the range; default 90 */
  framePercentile?: number;
  /**
   * Bias correction passes (0 = none): each pass runs the quantized graph over the calibration inputs and
   * moves every int8 conv's bias by the mean (per output channel) of its output's error against float.
   */
  biasCorrection?: number;
  /** concrete input shape; default: the declared shape with a symbolic batch set to 1 */
  inputShape?: number[];
  /** calibration inputs (the first ones) also used for the per-layer error report; default 4 */
  reportInputs?: number;
  /** ONNX Runtime threads for calibration; default 2 */
  threads?: number;
  log?: (msg: string) => void;
}

export interface LayerError {
  tensor: string;
  /** op that produces the tensor ('input' for a graph input) */
  op: string;
  /** 10·log10(Σ float² / Σ (int8 − float)²) over the report inputs; higher is better */
  snrDb: number;
  /** ‖int8 − float‖ / ‖float‖ */
  relRmse: number;
  /** how its range was chosen: a method, or `shared` (a data-movement op reusing its input's parameters) */
  method: RangeMethod | 'shared' | 'float';
  range: [number, number] | null;
  scale: number | null;
  zeroPoint: number | null;
}

export interface QuantizeReport {
  activationType: ActivationType;
  method: RangeMethod;
  percentile: number;
  calibrationInputs: number;
  reportInputs: number;
  quantizedTensors: number;
  quantizedConvs: number;
  /** tensors kept float by the exclude list */
  keptFloat: string[];
  seconds: number;
  /** every quantized tensor, worst SNR first */
  layers: LayerError[];
  /** the model's outputs, int8 vs float */
  outputs: LayerError[];
}

export interface QuantizeResult {
  onnx: Uint8Array;
  report: QuantizeReport;
}

function firstInput(graph: OnnxGraph): { name: string; declared: (number | string | null)[] | null } {
  const inits = new Set(graph.initializers.map((t) => t.name));
  const real = graph.inputs.filter((v) => !inits.has(v.name));
  if (real.length !== 1)
    throw new Error(`the quantizer handles single-input models; this one has ${real.length} inputs (${real.map((v) => v.name).join(', ')})`);
  return { name: real[0].name, declared: real[0].shape };
}

function concreteShape(name: string, declared: (number | string | null)[] | null, given?: number[]): number[] {
  if (given) {
    if (!given.every((d) => Number.isInteger(d) && d > 0)) throw new Error(`inputShape ${JSON.stringify(given)} must be positive integers`);
    return given;
  }
  if (!declared) throw new Error(`input ${name} has no declared shape; pass inputShape`);
  return declared.map((d, i) => {
    if (typeof d === 'number') return d;
    if (i === 0) return 1;
    throw new Error(`input ${name} dimension ${i} is dynamic (${d ?? '?'}); pass inputShape (e.g. the calibration size)`);
  });
}

/**
 * Static post-training quantization into QDQ form: calibrates activation ranges by running the float model
 * over the calibration inputs (every activation exposed as an output), inserts QuantizeLinear /
 * DequantizeLinear pairs, and reports each quantized tensor's error against float, worst first.
 */
export async function quantizeModel(
  fp32Onnx: Uint8Array,
  calib: AsyncIterable<Float32Array> | Iterable<Float32Array>,
  opts: QuantizeOptions = {},
): Promise<QuantizeResult> {
  const t0 = performance.now();
  const log = opts.log ?? ((): void => undefined);
  const type = opts.activationType ?? 'uint8';
  const method = opts.method ?? 'percentile';
  const percentile = opts.percentile ?? 99.99;
  if (!(percentile > 50 && percentile <= 100)) throw new Error(`percentile must be in (50, 100], got ${percentile}`);
  const threads = opts.threads ?? 2;
  const reportInputs = opts.reportInputs ?? 4;
  const overrides = (opts.methodOverrides ?? []).map((o) => ({ re: globToRegExp(o.pattern), method: o.method }));
  const biasPasses = opts.biasCorrection ?? 0;

  const graph = loadOnnx(fp32Onnx);
  const opset = graph.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version ?? 0;
  if (opset < 13) throw new Error(`the model uses opset ${opset}; per-channel QDQ needs opset 13 or later (re-export it)`);
  const input = firstInput(graph);
  const inputShape = concreteShape(input.name, input.declared, opts.inputShape);
  const facts = inferShapes(graph, { [input.name]: inputShape });
  const plan = planQuantization(graph, facts, opts.exclude ?? []);
  if (plan.tensors.length === 0) throw new Error('nothing to quantize: no Conv/Add/Mul/Concat/pool/sigmoid activations outside the exclude list');
  const roots = [...new Set(plan.tensors.map((t) => plan.root.get(t) ?? t))];
  const pcPatterns = (opts.perChannelDepthwise ?? []).map(globToRegExp);
  const perChannel = new Map<string, ChannelRanges>();
  for (const n of graph.nodes) {
    for (const t of n.outputs) {
      if (!pcPatterns.some((re) => re.test(t)) || plan.tensors.includes(t)) continue;
      const conv = depthwiseReader(graph, t);
      if (!conv) throw new Error(`perChannelDepthwise: tensor ${t} is not read by exactly one depthwise Conv with float weights`);
      const w = graph.initializers.find((x) => x.name === conv.inputs[1]);
      perChannel.set(t, new ChannelRanges(w!.dims[0]!));
    }
  }
  log(`quantizing ${plan.tensors.length} tensors (${roots.length} ranges), ${plan.convs.size} convs; ${plan.excluded.length} kept float`);

  // calibration: the float graph with every quantized tensor and every output exposed
  const probeNames = new Map<string, string>();
  for (const t of plan.tensors) probeNames.set(t, t);
  for (const t of perChannel.keys()) probeNames.set(t, t);
  // bias correction compares every int8 conv's output (before its activation) with float, per channel
  const convOut = biasPasses > 0 ? [...plan.convs].map((c) => c.outputs[0] ?? '') : [];
  const channels = new Map(convOut.map((t) => [t, channelShape(facts.get(t)?.dims, t)]));
  if (biasPasses > 0) for (const t of convOut) probeNames.set(t, t);
  const floatMean = new Map(convOut.map((t) => [t, new Float64Array(channels.get(t)![0])]));
  const calibInputs: Float32Array[] = [];
  const calGraph = loadOnnx(fp32Onnx);
  const runner = await ProbeRunner.open(calGraph, probeNames, input.name, inputShape, threads);
  const hist = new Map(roots.map((r) => [r, new TensorHistogram()]));
  const reference: Array<{ input: Float32Array; values: Map<string, Float32Array> }> = [];
  let n = 0;
  try {
    for await (const x of calib) {
      const values = await runner.run(x);
      for (const [r, h] of hist) {
        const v = values.get(r);
        if (!v) throw new Error(`calibration run did not return tensor ${r}`);
        try {
          h.add(v);
        } catch (e) {
          throw new Error(`tensor ${r}, calibration input ${n}: ${(e as Error).message}`);
        }
      }
      for (const [t, r] of perChannel) r.add(values.get(t)!);
      if (biasPasses > 0) {
        calibInputs.push(x);
        for (const t of convOut) addChannelSums(floatMean.get(t)!, values.get(t)!, channels.get(t)!);
      }
      if (reference.length < reportInputs) reference.push({ input: x, values });
      n++;
      if (n % 20 === 0) log(`calibrated on ${n} inputs`);
    }
  } finally {
    await runner.close();
  }
  if (n === 0) throw new Error('no calibration inputs: give at least one image');

  const methodOf = (t: string): RangeMethod => overrides.find((o) => o.re.test(t))?.method ?? method;
  const params = new Map<string, ActParams>();
  const ranges = new Map<string, { range: [number, number]; method: RangeMethod }>();
  for (const r of roots) {
    const m = methodOf(r);
    const range = hist
      .get(r)!
      .range(m, { percentile, levels: 256, ...(opts.framePercentile !== undefined ? { framePercentile: opts.framePercentile } : {}) });
    ranges.set(r, { range, method: m });
    params.set(r, activationParams(range[0], range[1], type));
  }

  // the float conv biases moved by bias correction (conv output tensor → per-channel shift)
  const biasShift = new Map<string, Float64Array>();
  const build = (fresh: boolean): ReturnType<typeof insertQdq> => {
    const g = fresh || biasShift.size ? withShiftedBiases(fp32Onnx, biasShift) : graph;
    const p = g === graph ? plan : planQuantization(g, facts, opts.exclude ?? []);
    const built = insertQdq(g, p, params, type);
    for (const [t, r] of perChannel) quantizeDepthwiseInput(built.graph, t, r, type);
    return built;
  };
  // Convs are corrected in order of depth (a conv's error depends on the corrections above it; moving all
  // at once makes the deeper ones double count and diverge): one level per run of the quantized graph.
  const convs = [...plan.convs];
  const level = convLevels(loadOnnx(fp32Onnx), new Set(convOut));
  const depth = Math.max(0, ...convOut.map((t) => level.get(t) ?? 0));
  for (let sweep = 0; sweep < biasPasses; sweep++) {
    let moved = 0;
    for (let L = 1; L <= depth; L++) {
      const idx = convOut.map((t, i) => (level.get(t) === L ? i : -1)).filter((i) => i >= 0);
      if (!idx.length) continue;
      const qGraph = build(true).graph;
      // only this level's conv outputs (before their Q; a folded Relu/Clip hands its name to the conv)
      const qOut = new Map<string, string>();
      for (const i of idx) {
        const node = qGraph.nodes.find((x) => x.name === convs[i]!.name && x.opType === 'Conv');
        if (!node || !node.outputs[0]) throw new Error(`bias correction: conv ${convs[i]!.name} not found in the quantized graph`);
        qOut.set(convOut[i]!, node.outputs[0]);
      }
      qGraph.outputs = [];
      const qr = await ProbeRunner.open(qGraph, new Map([...qOut.values()].map((t) => [t, t])), input.name, inputShape, threads);
      const qMean = new Map([...qOut.keys()].map((t) => [t, new Float64Array(channels.get(t)![0])]));
      try {
        for (const x of calibInputs) {
          const got = await qr.run(x);
          for (const [t, qt] of qOut) addChannelSums(qMean.get(t)!, got.get(qt)!, channels.get(t)!);
        }
      } finally {
        await qr.close();
      }
      for (const [t, qm] of qMean) {
        const shift = biasShift.get(t) ?? new Float64Array(qm.length);
        const fm = floatMean.get(t)!;
        for (let c = 0; c < shift.length; c++) {
          const d = (qm[c]! - fm[c]!) / n;
          shift[c] -= d;
          moved = Math.max(moved, Math.abs(d));
        }
        biasShift.set(t, shift);
      }
    }
    log(`bias correction sweep ${sweep + 1} (${depth} levels): largest mean error corrected ${moved.toPrecision(3)}`);
  }
  const q = build(false);
  q.graph.producerName = 'edgesight';
  q.graph.docString = `${q.graph.docString ? q.graph.docString + '; ' : ''}int8 QDQ by edgesight quantizer (${type} activations, ${method})`;
  const onnx = saveOnnx(q.graph);

  // per-layer error: the QDQ model with one extra DQ per quantized tensor, against the stored float values
  const probe = loadOnnx(onnx);
  const probeOut = new Map<string, string>();
  const { producer } = indexGraph(loadOnnx(fp32Onnx));
  for (const t of plan.tensors) {
    const codes = q.codes.get(t)!;
    const pn = q.paramNames.get(t)!;
    const out = `${t}/probe_dq`;
    probe.nodes.push({
      name: `${t}/probe/DequantizeLinear`,
      opType: 'DequantizeLinear',
      domain: '',
      inputs: [codes, pn.scale, pn.zeroPoint],
      outputs: [out],
      attributes: {},
    });
    probeOut.set(out, out);
  }
  const qRunner = await ProbeRunner.open(probe, probeOut, input.name, inputShape, threads);
  const acc = new Map<string, { s: number; e: number }>();
  const add = (key: string, ref: Float32Array, got: Float32Array): void => {
    if (ref.length !== got.length) throw new Error(`probe ${key}: ${got.length} values vs ${ref.length} in float`);
    // energies summed over all report inputs, so one figure covers them all
    const a = acc.get(key) ?? { s: 0, e: 0 };
    for (let i = 0; i < ref.length; i++) {
      a.s += ref[i] * ref[i];
      a.e += (got[i] - ref[i]) ** 2;
    }
    acc.set(key, a);
  };
  try {
    for (const ref of reference) {
      const got = await qRunner.run(ref.input);
      for (const t of plan.tensors) add(t, ref.values.get(t)!, got.get(`${t}/probe_dq`)!);
      for (const o of graph.outputs) add(`output:${o.name}`, ref.values.get(o.name)!, got.get(o.name)!);
    }
  } finally {
    await qRunner.close();
  }
  const stat = (key: string): { snrDb: number; relRmse: number } => {
    const a = acc.get(key) ?? { s: 0, e: 0 };
    return { snrDb: a.e === 0 ? Infinity : 10 * Math.log10(a.s / a.e), relRmse: a.s === 0 ? 0 : Math.sqrt(a.e / a.s) };
  };
  const layers: LayerError[] = plan.tensors.map((t) => {
    const r = plan.root.get(t) ?? t;
    const rr = ranges.get(r)!;
    const p = params.get(r)!;
    return {
      tensor: t,
      op: producer.get(t)?.opType ?? 'input',
      ...stat(t),
      method: r === t ? rr.method : 'shared',
      range: rr.range,
      scale: p.scale,
      zeroPoint: p.zeroPoint,
    };
  });
  layers.sort((a, b) => a.snrDb - b.snrDb);
  const outputs: LayerError[] = graph.outputs.map((o) => ({
    tensor: o.name,
    op: producer.get(o.name)?.opType ?? 'input',
    ...stat(`output:${o.name}`),
    method: 'float',
    range: null,
    scale: null,
    zeroPoint: null,
  }));
  const keptFloat = plan.excluded;
  return {
    onnx,
    report: {
      activationType: type,
      method,
      percentile,
      calibrationInputs: n,
      reportInputs: reference.length,
      quantizedTensors: plan.tensors.length,
      quantizedConvs: plan.convs.size + perChannel.size,
      keptFloat,
      seconds: (performance.now() - t0) / 1000,
      layers,
      outputs,
    },
  };
}

/** [channels, values per channel] of an NCHW (batch 1) or NC tensor */
function channelShape(shape: ReadonlyArray<number | string | null> | null | undefined, t: string): [number, number] {
  if (!shape || shape.length < 2 || !shape.every((d) => typeof d === 'number')) throw new Error(`tensor ${t} has no concrete shape`);
  const dims = shape as number[];
  return [dims[1]!, dims.slice(2).reduce((a, b) => a * b, 1)];
}

/** adds each channel's mean over its values to `acc` */
function addChannelSums(acc: Float64Array, v: Float32Array, [c, per]: [number, number]): void {
  if (v.length !== c * per) throw new Error(`conv output has ${v.length} values, expected ${c}×${per}`);
  for (let k = 0; k < c; k++) {
    let s = 0;
    for (let i = k * per; i < (k + 1) * per; i++) s += v[i]!;
    acc[k] += s / per;
  }
}

/** depth of each given conv output: 1 + the deepest of those upstream of it (nodes in topological order) */
function convLevels(g: OnnxGraph, convOutputs: Set<string>): Map<string, number> {
  const lv = new Map<string, number>();
  for (const n of g.nodes) {
    const up = Math.max(0, ...n.inputs.map((i) => lv.get(i) ?? 0));
    for (const o of n.outputs) lv.set(o, n.opType === 'Conv' && convOutputs.has(o) ? up + 1 : up);
  }
  return new Map([...convOutputs].map((t) => [t, lv.get(t) ?? 0]));
}

/** a fresh copy of the float graph with the biases of the convs writing these tensors shifted per channel */
function withShiftedBiases(fp32Onnx: Uint8Array, shift: Map<string, Float64Array>): OnnxGraph {
  const g = loadOnnx(fp32Onnx);
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  for (const n of g.nodes) {
    const d = n.opType === 'Conv' ? shift.get(n.outputs[0] ?? '') : undefined;
    if (!d) continue;
    const b = inits.get(n.inputs[2] ?? '');
    if (!b || b.data.length !== d.length) throw new Error(`bias correction: conv ${n.name} has no bias of ${d.length} values`);
    const data = Float32Array.from(b.data as Float32Array, (v, c) => v + d[c]!);
    b.data = data;
  }
  return g;
}

/** The per-layer table, worst first (at most `limit` rows). */
export function formatReport(r: QuantizeReport, limit = 20): string {
  const lines = [
    `int8 quantization: ${r.quantizedTensors} tensors, ${r.quantizedConvs} convs, ${r.activationType} activations, ${r.method}` +
      `${r.method === 'percentile' ? ` ${r.percentile}` : ''}; ${r.calibrationInputs} calibration inputs; ${r.seconds.toFixed(1)} s`,
    r.keptFloat.length ? `kept float: ${r.keptFloat.join(', ')}` : 'kept float: none',
    '',
    'outputs (int8 vs float):',
    ...r.outputs.map((o) => `  ${o.tensor.padEnd(40)} SNR ${fmtDb(o.snrDb)} dB  rel RMSE ${o.relRmse.toFixed(4)}`),
    '',
    `worst layers (of ${r.layers.length}, SNR over ${r.reportInputs} inputs, error accumulated from the input):`,
    `  ${'SNR dB'.padStart(7)}  ${'relRMSE'.padStart(8)}  ${'method'.padEnd(10)}  ${'range'.padEnd(20)}  op / tensor`,
    ...r.layers.slice(0, limit).map((l) => {
      const range = l.range ? `[${l.range[0].toPrecision(3)}, ${l.range[1].toPrecision(3)}]` : '';
      return `  ${fmtDb(l.snrDb).padStart(7)}  ${l.relRmse.toFixed(4).padStart(8)}  ${l.method.padEnd(10)}  ${range.padEnd(20)}  ${l.op} ${l.tensor}`;
    }),
  ];
  return lines.join('\n');
}

const fmtDb = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : v > 0 ? 'inf' : '-inf');
