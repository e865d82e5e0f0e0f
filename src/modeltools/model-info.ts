import { dataTypeName, indexGraph, type Dim, type OnnxGraph, type OnnxNode } from './onnx/graph.js';
import { loadOnnx } from './onnx/io.js';
import { inferShapes } from './onnx/shapes.js';

/**
 * Published figures to compare `modelInfo` against.
 * SSDLite V3-Small†: Howard et al., "Searching for MobileNetV3", ICCV 2019 (arXiv:1905.02244), Table 6
 * (COCO detection; † = channels of the blocks between C4 and C5 halved, the variant TF released as
 * ssd_mobilenet_v3_small_coco; 16.1 mAP, 43 ms on a Pixel 1 core). Quoted from the paper as remembered by
 * the author; the stored-search corpus had no copy of the table to re-check it.
 * LR-ASPP V3-Small (VOC, distilled here): models/sources/MODEL_CARD.md, at 320×320.
 */
export const PAPER_FIGURES = {
  ssdliteV3SmallReduced: { params: 1.77e6, madds: 0.16e9 },
  lrasppV3SmallVoc320: { params: 1.07e6, madds: 0.248e9 },
} as const;

export interface TensorInfo {
  name: string;
  dtype: string;
  /** as declared in the model (symbolic dims kept as names) */
  declared: Dim[] | null;
  /** concrete shape at the analysed input size */
  shape: number[];
}

export interface ModelInfo {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** node count per op type ("domain.Op" outside the default domain) */
  opCounts: Record<string, number>;
  /** compute nodes (see COMPUTE_OPS), the denominator of int8OpShare */
  computeOps: number;
  /**
   * Share of compute nodes that run on quantized data: QLinear* / *Integer nodes, plus float compute nodes
   * whose every non-constant input comes from a DequantizeLinear and whose every output goes only to
   * QuantizeLinear nodes (the DQ → op → Q units ONNX Runtime can fuse into integer kernels). A float graph
   * scores 0; an op left between DQ and a float consumer (e.g. the HardSigmoid of an h-swish) does not count.
   */
  int8OpShare: number;
  /** the same share weighted by multiply-adds */
  int8MacShare: number;
  /**
   * Weight elements: weights and biases of Conv/ConvTranspose/Gemm/MatMul (directly, through a
   * DequantizeLinear of a constant, or as QLinearConv/QLinearMatMul/*Integer operands). Scales, zero
   * points, shape constants and scalar constants of elementwise ops are not counted.
   */
  params: number;
  /** multiply-adds of Conv/ConvTranspose/Gemm/MatMul (and their quantized forms) at the analysed size */
  macs: number;
  /** the input shapes the figures were computed for */
  inputShapes: Record<string, number[]>;
}

export interface ModelInfoOptions {
  /** concrete input shapes; symbolic dims not given here: leading batch → 1, anything else is an error */
  inputShapes?: Record<string, number[]>;
}

/** Op types counted as compute in int8OpShare (everything else moves or reinterprets data). */
export const COMPUTE_OPS = new Set([
  'Conv',
  'ConvTranspose',
  'Gemm',
  'MatMul',
  'Add',
  'Sub',
  'Mul',
  'Div',
  'Relu',
  'Clip',
  'LeakyRelu',
  'Sigmoid',
  'HardSigmoid',
  'HardSwish',
  'Tanh',
  'Softmax',
  'AveragePool',
  'MaxPool',
  'GlobalAveragePool',
  'GlobalMaxPool',
  'ReduceMean',
  'Resize',
  'Concat',
]);
const QUANTIZED_OPS = new Set([
  'QLinearConv',
  'QLinearMatMul',
  'ConvInteger',
  'MatMulInteger',
  'com.microsoft.QLinearAdd',
  'com.microsoft.QLinearMul',
  'com.microsoft.QLinearSigmoid',
  'com.microsoft.QLinearLeakyRelu',
  'com.microsoft.QLinearConcat',
  'com.microsoft.QLinearAveragePool',
  'com.microsoft.QLinearGlobalAveragePool',
  'com.microsoft.QLinearSoftmax',
]);
/** [weight input, bias input] per matrix op */
const WEIGHT_INPUTS: Record<string, number[]> = {
  Conv: [1, 2],
  ConvTranspose: [1, 2],
  Gemm: [1, 2],
  MatMul: [1],
  QLinearConv: [3, 8],
  QLinearMatMul: [3],
  ConvInteger: [1],
  MatMulInteger: [1],
};

function opKey(n: OnnxNode): string {
  return n.domain === '' || n.domain === 'ai.onnx' ? n.opType : `${n.domain}.${n.opType}`;
}

/** Summarises an ONNX model: I/O, op mix, quantized share, parameter count and multiply-adds. */
export function modelInfo(onnx: Uint8Array | OnnxGraph, opts: ModelInfoOptions = {}): ModelInfo {
  const graph = onnx instanceof Uint8Array ? loadOnnx(onnx) : onnx;
  const initNames = new Set(graph.initializers.map((t) => t.name));
  const realInputs = graph.inputs.filter((v) => !initNames.has(v.name));
  const inputShapes: Record<string, number[]> = {};
  for (const v of realInputs) {
    const given = opts.inputShapes?.[v.name];
    if (given) {
      inputShapes[v.name] = given;
      continue;
    }
    if (!v.shape) throw new Error(`input ${v.name} has unknown rank; pass inputShapes`);
    inputShapes[v.name] = v.shape.map((d, i) => {
      if (typeof d === 'number') return d;
      if (i === 0) return 1;
      throw new Error(`input ${v.name} dimension ${i} is symbolic (${d ?? '?'}); pass inputShapes to analyse it`);
    });
  }
  const facts = inferShapes(graph, inputShapes);
  const { producer, consumers, initializer } = indexGraph(graph);

  // Constants: initializers and Constant-node outputs.
  const constElems = new Map<string, number>();
  for (const t of graph.initializers) constElems.set(t.name, t.data.length);
  for (const n of graph.nodes) {
    const v = n.attributes['value'];
    if (n.opType === 'Constant' && v?.type === 'tensor' && n.outputs[0]) constElems.set(n.outputs[0], v.value.data.length);
  }
  const isConst = (name: string): boolean => constElems.has(name) || initializer.has(name);
  /** the constant behind a value, looking through one DequantizeLinear */
  const constSource = (name: string): string | null => {
    if (isConst(name)) return name;
    const p = producer.get(name);
    if (p && p.opType === 'DequantizeLinear' && p.inputs[0] && isConst(p.inputs[0])) return p.inputs[0];
    return null;
  };

  const opCounts: Record<string, number> = {};
  let params = 0;
  let macs = 0;
  let computeOps = 0;
  let quantOps = 0;
  let quantMacs = 0;
  const counted = new Set<string>();
  for (const n of graph.nodes) {
    const key = opKey(n);
    opCounts[key] = (opCounts[key] ?? 0) + 1;
    const w = WEIGHT_INPUTS[n.opType];
    if (w && (n.domain === '' || n.domain === 'ai.onnx')) {
      for (const k of w) {
        const src = n.inputs[k] ? constSource(n.inputs[k] as string) : null;
        if (src && !counted.has(src)) {
          counted.add(src);
          params += constElems.get(src) ?? 0;
        }
      }
    }
    const nodeMacs = macsOf(n, facts);
    macs += nodeMacs;
    const quantized = QUANTIZED_OPS.has(key) || (COMPUTE_OPS.has(key) && runsBetweenQdq(n, producer, consumers, isConst));
    if (COMPUTE_OPS.has(key) || QUANTIZED_OPS.has(key)) {
      computeOps++;
      if (quantized) {
        quantOps++;
        quantMacs += nodeMacs;
      }
    }
  }
  const describe = (name: string, declared: Dim[] | null, elemType: number): TensorInfo => {
    const f = facts.get(name);
    if (!f) throw new Error(`no shape inferred for ${name}`);
    return { name, dtype: dataTypeName(elemType), declared, shape: f.dims };
  };
  return {
    inputs: realInputs.map((v) => describe(v.name, v.shape, v.elemType)),
    outputs: graph.outputs.map((v) => describe(v.name, v.shape, v.elemType)),
    opCounts,
    computeOps,
    int8OpShare: computeOps === 0 ? 0 : quantOps / computeOps,
    int8MacShare: macs === 0 ? 0 : quantMacs / macs,
    params,
    macs,
    inputShapes,
  };
}

function runsBetweenQdq(
  n: OnnxNode,
  producer: Map<string, OnnxNode>,
  consumers: Map<string, OnnxNode[]>,
  isConst: (name: string) => boolean,
): boolean {
  const acts = n.inputs.filter((i) => i !== '' && !isConst(i));
  if (acts.length === 0) return false;
  // Conv/Gemm weights reach the op through their own DQ; any non-constant input must come from a DQ.
  if (!acts.every((i) => producer.get(i)?.opType === 'DequantizeLinear')) return false;
  return n.outputs.every((o) => {
    const cs = consumers.get(o) ?? [];
    return cs.length > 0 && cs.every((c) => c.opType === 'QuantizeLinear');
  });
}

function macsOf(n: OnnxNode, facts: Map<string, { dims: number[] }>): number {
  const dims = (name: string | undefined): number[] => {
    const f = name ? facts.get(name) : undefined;
    if (!f) throw new Error(`node ${n.name}: no shape for ${name ?? 'missing input'}`);
    return f.dims;
  };
  const prod = (a: number[]): number => a.reduce((x, y) => x * y, 1);
  switch (n.opType) {
    case 'Conv':
    case 'ConvInteger':
    case 'QLinearConv': {
      const q = n.opType === 'QLinearConv';
      const w = dims(n.inputs[q ? 3 : 1]);
      const y = dims(n.outputs[0]);
      // every output element needs (Cin/group)·kH·kW multiply-adds = prod(w.dims[1:])
      return prod(y) * prod(w.slice(1));
    }
    case 'ConvTranspose': {
      const x = dims(n.inputs[0]);
      const w = dims(n.inputs[1]);
      return prod(x) * prod(w.slice(1));
    }
    case 'Gemm':
    case 'MatMul':
    case 'MatMulInteger':
    case 'QLinearMatMul': {
      const a = dims(n.inputs[0]);
      const y = dims(n.outputs[0]);
      const k = n.opType === 'Gemm' && n.attributes['transA']?.type === 'int' && n.attributes['transA'].value === 1 ? a[0] : a[a.length - 1];
      return prod(y) * (k as number);
    }
    default:
      return 0;
  }
}
