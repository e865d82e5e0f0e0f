import { DataType, indexGraph, type OnnxGraph, type OnnxNode } from '../onnx/graph.js';
import type { ShapeFact } from '../onnx/shapes.js';
import { globToRegExp } from './profiles.js';

/**
 * Which activation tensors get a QuantizeLinear/DequantizeLinear pair.
 *
 * - Compute ops with QLinear kernels in ONNX Runtime (QUANT_OPS) read dequantized inputs and have their
 *   output quantized, so ORT can fuse DQ → op → Q into one integer kernel.
 * - A Relu/Clip right after such an op is folded into the Q by ORT, so the quantization point moves to
 *   the activation's output (the op's raw output stays float and feeds only the Relu/Clip).
 * - Data-movement ops (PASS_OPS) share their input's scale and zero point; ORT then drops the DQ/Q pair
 *   around them and moves the 8-bit codes.
 * - Ops without an integer kernel (HardSigmoid) read a DQ and write float: quantizing their output would
 *   only add a Q and a DQ around a float op (the h-swish Mul then reads one float input).
 */
export const QUANT_OPS = new Set(['Conv', 'Add', 'Mul', 'Concat', 'GlobalAveragePool', 'AveragePool', 'Sigmoid']);
export const ACT_OPS = new Set(['Relu', 'Clip']);
export const PASS_OPS = new Set(['Reshape', 'Transpose', 'Flatten', 'Squeeze', 'Unsqueeze', 'Resize', 'MaxPool', 'Identity']);
export const FLOAT_OUT_OPS = new Set(['HardSigmoid', 'HardSwish']);

/** inputs of a node that carry activations (the rest are weights, shapes, bounds) */
export function dataInputs(n: OnnxNode): number[] {
  switch (n.opType) {
    case 'Add':
    case 'Mul':
    case 'Concat':
      return n.inputs.map((_, i) => i);
    default:
      return [0];
  }
}

export interface QuantPlan {
  /** quantized tensors, in graph order */
  tensors: string[];
  /** tensor → the tensor whose scale/zero point it reuses (itself for roots) */
  root: Map<string, string>;
  /** Conv nodes whose data input is quantized: their weights become per-channel int8, bias int32 */
  convs: Set<OnnxNode>;
  /** tensors left in float because an exclude pattern matched them (or their producer node) */
  excluded: string[];
}

export function planQuantization(graph: OnnxGraph, facts: Map<string, ShapeFact>, exclude: string[]): QuantPlan {
  const { producer, consumers, initializer } = indexGraph(graph);
  const patterns = exclude.map(globToRegExp);
  const constNames = new Set<string>(graph.initializers.map((t) => t.name));
  for (const n of graph.nodes) if (n.opType === 'Constant' && n.outputs[0]) constNames.add(n.outputs[0]);
  const isFloatActivation = (t: string): boolean =>
    t !== '' && !constNames.has(t) && !initializer.has(t) && facts.get(t)?.elemType === DataType.FLOAT;
  const matches = (s: string): boolean => patterns.some((re) => re.test(s));

  const decided = new Map<string, boolean>();
  const root = new Map<string, string>();
  const excluded: string[] = [];
  const usedAsData = (t: string, c: OnnxNode): boolean => dataInputs(c).some((k) => c.inputs[k] === t);

  const decide = (t: string): boolean => {
    const p = producer.get(t);
    if (matches(t) || (p && p.name && matches(p.name))) {
      excluded.push(t);
      return false;
    }
    const cs = consumers.get(t) ?? [];
    if (
      p &&
      QUANT_OPS.has(p.opType) &&
      cs.length > 0 &&
      cs.every((c) => ACT_OPS.has(c.opType) && c.inputs[0] === t) &&
      !graph.outputs.some((o) => o.name === t)
    ) {
      return false;
    }
    if (p && PASS_OPS.has(p.opType)) {
      const src = p.inputs[0] ?? '';
      if (decided.get(src)) {
        root.set(t, root.get(src) ?? src);
        return true;
      }
    }
    if (p && FLOAT_OUT_OPS.has(p.opType)) return false;
    if (p && (QUANT_OPS.has(p.opType) || ACT_OPS.has(p.opType))) return true;
    return cs.some((c) => QUANT_OPS.has(c.opType) && usedAsData(t, c));
  };

  const tensors: string[] = [];
  const visit = (t: string): void => {
    if (decided.has(t) || !isFloatActivation(t)) return;
    const q = decide(t);
    decided.set(t, q);
    if (q) {
      tensors.push(t);
      if (!root.has(t)) root.set(t, t);
    }
  };
  for (const v of graph.inputs) visit(v.name);
  for (const n of graph.nodes) for (const o of n.outputs) visit(o);

  const convs = new Set<OnnxNode>();
  for (const n of graph.nodes) {
    if (n.opType === 'Conv' && decided.get(n.inputs[0] ?? '') && initializer.has(n.inputs[1] ?? '')) convs.add(n);
  }
  return { tensors, root, convs, excluded };
}
