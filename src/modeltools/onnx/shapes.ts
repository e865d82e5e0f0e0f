import { attrInt, attrInts, attrString, DataType, type OnnxGraphBody, type OnnxNode, type OnnxTensor } from './graph.js';

/** A propagated tensor: its concrete dims and, for small integer tensors (shapes, axes, pads), its values. */
export interface ShapeFact {
  dims: number[];
  elemType: number;
  value?: number[];
}

const MAX_VALUE_ELEMENTS = 64;

const ELEMENTWISE = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Sum', 'Mean', 'Equal', 'Less', 'Greater', 'And', 'Or', 'Where']);
const SAME_SHAPE = new Set([
  'Relu',
  'Clip',
  'HardSigmoid',
  'HardSwish',
  'Sigmoid',
  'Tanh',
  'LeakyRelu',
  'PRelu',
  'Softmax',
  'LogSoftmax',
  'Identity',
  'Sqrt',
  'Exp',
  'Log',
  'Neg',
  'Abs',
  'Erf',
  'Floor',
  'Ceil',
  'Round',
  'Dropout',
  'BatchNormalization',
  'Not',
]);

/**
 * Propagates concrete shapes through a graph for the given input shapes (small integer tensors are
 * evaluated too, because exporters compute pads and resize sizes with Shape/Gather/Concat chains).
 * Throws on an operator it does not know, naming it, rather than guessing.
 */
export function inferShapes(graph: OnnxGraphBody, inputShapes: Record<string, number[]>): Map<string, ShapeFact> {
  const facts = new Map<string, ShapeFact>();
  for (const t of graph.initializers) facts.set(t.name, tensorFact(t));
  for (const v of graph.inputs) {
    if (facts.has(v.name)) continue;
    const dims = inputShapes[v.name];
    if (!dims) throw new Error(`shape inference: no shape for input ${v.name}`);
    facts.set(v.name, { dims, elemType: v.elemType });
  }
  for (const node of graph.nodes) {
    const get = (k: number): ShapeFact => {
      const name = node.inputs[k];
      const f = name ? facts.get(name) : undefined;
      if (!f) throw new Error(`shape inference: node ${node.name} (${node.opType}) input ${k} (${name ?? 'missing'}) has no known shape`);
      return f;
    };
    const opt = (k: number): ShapeFact | undefined => {
      const name = node.inputs[k];
      return name ? facts.get(name) : undefined;
    };
    const outs = inferNode(node, get, opt);
    outs.forEach((f, i) => {
      const name = node.outputs[i];
      if (name) facts.set(name, f);
    });
  }
  return facts;
}

function tensorFact(t: OnnxTensor): ShapeFact {
  const f: ShapeFact = { dims: t.dims, elemType: t.dataType };
  if (t.data.length <= MAX_VALUE_ELEMENTS) f.value = Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
  return f;
}

function broadcast(a: number[], b: number[], where: string): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`${where}: cannot broadcast ${JSON.stringify(a)} with ${JSON.stringify(b)}`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

function count(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function withValue(f: ShapeFact, value: number[] | undefined): ShapeFact {
  if (value !== undefined && value.length <= MAX_VALUE_ELEMENTS) f.value = value;
  return f;
}

function normAxis(a: number, rank: number): number {
  return a < 0 ? a + rank : a;
}

/** Output spatial size of a conv/pool window along one axis. */
export function windowOut(inSize: number, k: number, stride: number, dil: number, padBegin: number, padEnd: number, ceil = false): number {
  const eff = (k - 1) * dil + 1;
  const v = (inSize + padBegin + padEnd - eff) / stride;
  return (ceil ? Math.ceil(v) : Math.floor(v)) + 1;
}

function spatial(node: OnnxNode, x: number[], kernel: number[], where: string): number[] {
  const n = kernel.length;
  const strides = attrInts(node, 'strides') ?? new Array<number>(n).fill(1);
  const dil = attrInts(node, 'dilations') ?? new Array<number>(n).fill(1);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const ceil = attrInt(node, 'ceil_mode', 0) === 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const inSize = x[2 + i] as number;
    const s = strides[i] ?? 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') out.push(Math.ceil(inSize / s));
    else {
      const pads = autoPad === 'VALID' ? new Array<number>(2 * n).fill(0) : (attrInts(node, 'pads') ?? new Array<number>(2 * n).fill(0));
      out.push(windowOut(inSize, kernel[i] as number, s, dil[i] ?? 1, pads[i] ?? 0, pads[i + n] ?? 0, ceil));
    }
  }
  if (out.some((v) => !(v > 0))) throw new Error(`${where}: window does not fit the input ${JSON.stringify(x)}`);
  return out;
}

function inferNode(node: OnnxNode, get: (k: number) => ShapeFact, opt: (k: number) => ShapeFact | undefined): ShapeFact[] {
  const where = `shape inference: node ${node.name} (${node.opType})`;
  const op = node.domain === '' || node.domain === 'ai.onnx' ? node.opType : `${node.domain}.${node.opType}`;
  if (SAME_SHAPE.has(op)) {
    const x = get(0);
    return [withValue({ dims: x.dims, elemType: x.elemType }, op === 'Identity' ? x.value : undefined)];
  }
  if (ELEMENTWISE.has(op)) {
    let dims = get(0).dims;
    for (let k = 1; k < node.inputs.length; k++) dims = broadcast(dims, get(k).dims, where);
    const a = get(0);
    const b = node.inputs.length > 1 ? get(1) : undefined;
    let value: number[] | undefined;
    if (
      a.value &&
      b?.value &&
      (op === 'Add' || op === 'Sub' || op === 'Mul' || op === 'Div') &&
      count(dims) === Math.max(a.value.length, b.value.length)
    ) {
      const n = count(dims);
      value = [];
      for (let i = 0; i < n; i++) {
        const x = a.value[a.value.length === 1 ? 0 : i] as number;
        const y = b.value[b.value.length === 1 ? 0 : i] as number;
        value.push(op === 'Add' ? x + y : op === 'Sub' ? x - y : op === 'Mul' ? x * y : Math.trunc(x / y));
      }
    }
    return [withValue({ dims, elemType: a.elemType }, value)];
  }
  switch (op) {
    case 'Constant': {
      const a = node.attributes['value'];
      if (a?.type === 'tensor') return [tensorFact(a.value)];
      const ints = node.attributes['value_ints'];
      if (ints?.type === 'ints') return [{ dims: [ints.value.length], elemType: DataType.INT64, value: ints.value }];
      const i = node.attributes['value_int'];
      if (i?.type === 'int') return [{ dims: [], elemType: DataType.INT64, value: [i.value] }];
      const fl = node.attributes['value_float'];
      if (fl?.type === 'float') return [{ dims: [], elemType: DataType.FLOAT, value: [fl.value] }];
      throw new Error(`${where}: unsupported Constant form`);
    }
    case 'QuantizeLinear': {
      const zp = opt(2);
      return [{ dims: get(0).dims, elemType: zp ? zp.elemType : DataType.UINT8 }];
    }
    case 'DequantizeLinear':
      return [{ dims: get(0).dims, elemType: DataType.FLOAT }];
    case 'Cast': {
      const x = get(0);
      return [withValue({ dims: x.dims, elemType: attrInt(node, 'to', x.elemType) }, x.value)];
    }
    case 'Shape': {
      const x = get(0);
      const r = x.dims.length;
      const start = normAxis(attrInt(node, 'start', 0), r);
      const end = node.attributes['end'] ? normAxis(attrInt(node, 'end', r), r) : r;
      const v = x.dims.slice(start, end);
      return [{ dims: [v.length], elemType: DataType.INT64, value: v }];
    }
    case 'Gather': {
      const x = get(0);
      const idx = get(1);
      const axis = normAxis(attrInt(node, 'axis', 0), x.dims.length);
      const dims = [...x.dims.slice(0, axis), ...idx.dims, ...x.dims.slice(axis + 1)];
      let value: number[] | undefined;
      if (x.value && idx.value && x.dims.length === 1) value = idx.value.map((i) => x.value?.[normAxis(i, x.dims[0] as number)] as number);
      return [withValue({ dims, elemType: x.elemType }, value)];
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      const x = get(0);
      const axesIn = opt(1)?.value ?? attrInts(node, 'axes');
      let dims: number[];
      if (op === 'Unsqueeze') {
        if (!axesIn) throw new Error(`${where}: axes unknown`);
        const r = x.dims.length + axesIn.length;
        const axes = axesIn.map((a) => normAxis(a, r));
        dims = [];
        let j = 0;
        for (let i = 0; i < r; i++) dims.push(axes.includes(i) ? 1 : (x.dims[j++] as number));
      } else {
        const axes = axesIn?.map((a) => normAxis(a, x.dims.length));
        dims = x.dims.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
      }
      return [withValue({ dims, elemType: x.elemType }, x.value)];
    }
    case 'Concat': {
      const xs = node.inputs.map((_, k) => get(k));
      const first = xs[0] as ShapeFact;
      const axis = normAxis(attrInt(node, 'axis', 0), first.dims.length);
      const dims = [...first.dims];
      dims[axis] = xs.reduce((s, f) => s + (f.dims[axis] as number), 0);
      const value = xs.every((f) => f.value) && first.dims.length === 1 ? xs.flatMap((f) => f.value as number[]) : undefined;
      return [withValue({ dims, elemType: first.elemType }, value)];
    }
    case 'Reshape': {
      const x = get(0);
      const target = get(1).value;
      if (!target) throw new Error(`${where}: target shape is not a known constant`);
      const allowZero = attrInt(node, 'allowzero', 0) === 1;
      const dims = target.map((d, i) => (d === 0 && !allowZero ? (x.dims[i] as number) : d));
      const neg = dims.indexOf(-1);
      if (neg >= 0) dims[neg] = count(x.dims) / count(dims.filter((_, i) => i !== neg));
      if (count(dims) !== count(x.dims) || dims.some((d) => !Number.isInteger(d))) {
        throw new Error(`${where}: cannot reshape ${JSON.stringify(x.dims)} to ${JSON.stringify(target)}`);
      }
      return [withValue({ dims, elemType: x.elemType }, x.value)];
    }
    case 'Flatten': {
      const x = get(0);
      const axis = normAxis(attrInt(node, 'axis', 1), x.dims.length);
      return [{ dims: [count(x.dims.slice(0, axis)), count(x.dims.slice(axis))], elemType: x.elemType }];
    }
    case 'Transpose': {
      const x = get(0);
      const perm = attrInts(node, 'perm') ?? x.dims.map((_, i) => x.dims.length - 1 - i);
      const dims = perm.map((p) => x.dims[p] as number);
      let value: number[] | undefined;
      if (x.value && x.dims.length === 2 && perm[0] === 1) {
        const [r, c] = x.dims as [number, number];
        value = [];
        for (let j = 0; j < c; j++) for (let i = 0; i < r; i++) value.push(x.value[i * c + j] as number);
      } else if (x.value && x.dims.length <= 1) value = x.value;
      return [withValue({ dims, elemType: x.elemType }, value)];
    }
    case 'Slice': {
      const x = get(0);
      const starts = get(1).value;
      const ends = get(2).value;
      if (!starts || !ends) throw new Error(`${where}: starts/ends are not known constants`);
      const axes = opt(3)?.value ?? starts.map((_, i) => i);
      const steps = opt(4)?.value ?? starts.map(() => 1);
      const dims = [...x.dims];
      const ranges = x.dims.map((d) => [0, d, 1] as [number, number, number]);
      axes.forEach((a0, i) => {
        const a = normAxis(a0, x.dims.length);
        const d = x.dims[a] as number;
        const step = steps[i] as number;
        const clampS = (v: number): number => {
          const w = v < 0 ? v + d : v;
          return step > 0 ? Math.min(Math.max(w, 0), d) : Math.min(Math.max(w, -1), d - 1);
        };
        const s = clampS(starts[i] as number);
        const e = clampS(ends[i] as number);
        dims[a] = Math.max(0, Math.ceil((e - s) / step));
        ranges[a] = [s, e, step];
      });
      let value: number[] | undefined;
      if (x.value) {
        const strides = x.dims.map((_, i) => count(x.dims.slice(i + 1)));
        const n = count(dims);
        value = [];
        for (let o = 0; o < n; o++) {
          let rem = o;
          let src = 0;
          for (let a = dims.length - 1; a >= 0; a--) {
            const d = dims[a] as number;
            const k = rem % d;
            rem = Math.floor(rem / d);
            const [s, , step] = ranges[a] as [number, number, number];
            src += (s + k * step) * (strides[a] as number);
          }
          value.push(x.value[src] as number);
        }
      }
      return [withValue({ dims, elemType: x.elemType }, value)];
    }
    case 'ConstantOfShape': {
      const shape = get(0).value;
      if (!shape) throw new Error(`${where}: shape is not a known constant`);
      const a = node.attributes['value'];
      const fill = a?.type === 'tensor' ? Number(a.value.data[0] ?? 0) : 0;
      const elemType = a?.type === 'tensor' ? a.value.dataType : DataType.FLOAT;
      return [withValue({ dims: shape, elemType }, new Array<number>(count(shape)).fill(fill))];
    }
    case 'Pad': {
      const x = get(0);
      const pads = opt(1)?.value ?? attrInts(node, 'pads');
      if (!pads) throw new Error(`${where}: pads are not a known constant`);
      const r = x.dims.length;
      const axes = opt(3)?.value?.map((a) => normAxis(a, r)) ?? x.dims.map((_, i) => i);
      const dims = [...x.dims];
      axes.forEach((a, i) => {
        dims[a] = (dims[a] as number) + (pads[i] as number) + (pads[i + axes.length] as number);
      });
      return [{ dims, elemType: x.elemType }];
    }
    case 'Conv':
    case 'ConvInteger':
    case 'QLinearConv': {
      const q = op === 'QLinearConv';
      const x = get(0);
      const w = get(q ? 3 : 1);
      const kernel = attrInts(node, 'kernel_shape') ?? w.dims.slice(2);
      const out = spatial(node, x.dims, kernel, where);
      const elemType = q ? get(7).elemType : op === 'ConvInteger' ? DataType.INT32 : x.elemType;
      return [{ dims: [x.dims[0] as number, w.dims[0] as number, ...out], elemType }];
    }
    case 'AveragePool':
    case 'MaxPool':
    case 'com.microsoft.QLinearAveragePool': {
      const x = get(0);
      const kernel = attrInts(node, 'kernel_shape');
      if (!kernel) throw new Error(`${where}: kernel_shape missing`);
      const out = spatial(node, x.dims, kernel, where);
      return [{ dims: [x.dims[0] as number, x.dims[1] as number, ...out], elemType: x.elemType }];
    }
    case 'GlobalAveragePool':
    case 'GlobalMaxPool':
    case 'com.microsoft.QLinearGlobalAveragePool': {
      const x = get(0);
      return [{ dims: [...x.dims.slice(0, 2), ...x.dims.slice(2).map(() => 1)], elemType: x.elemType }];
    }
    case 'ReduceMean':
    case 'ReduceMax':
    case 'ReduceSum':
    case 'ReduceMin': {
      const x = get(0);
      const r = x.dims.length;
      const axes = (opt(1)?.value ?? attrInts(node, 'axes') ?? x.dims.map((_, i) => i)).map((a) => normAxis(a, r));
      const keep = attrInt(node, 'keepdims', 1) === 1;
      const dims = keep ? x.dims.map((d, i) => (axes.includes(i) ? 1 : d)) : x.dims.filter((_, i) => !axes.includes(i));
      return [{ dims, elemType: x.elemType }];
    }
    case 'ArgMax':
    case 'ArgMin': {
      const x = get(0);
      const axis = normAxis(attrInt(node, 'axis', 0), x.dims.length);
      const keep = attrInt(node, 'keepdims', 1) === 1;
      const dims = keep ? x.dims.map((d, i) => (i === axis ? 1 : d)) : x.dims.filter((_, i) => i !== axis);
      return [{ dims, elemType: DataType.INT64 }];
    }
    case 'Resize': {
      const x = get(0);
      const sizes = opt(3)?.value;
      const scales = opt(2)?.value;
      let dims: number[];
      if (sizes && sizes.length > 0) {
        if (sizes.length === x.dims.length) dims = sizes;
        else dims = [...x.dims.slice(0, x.dims.length - sizes.length), ...sizes];
      } else if (scales && scales.length === x.dims.length) dims = x.dims.map((d, i) => Math.floor(d * (scales[i] as number)));
      else throw new Error(`${where}: output size is not a known constant`);
      return [{ dims, elemType: x.elemType }];
    }
    case 'Gemm': {
      const a = get(0).dims;
      const b = get(1).dims;
      const ta = attrInt(node, 'transA', 0) === 1;
      const tb = attrInt(node, 'transB', 0) === 1;
      return [{ dims: [(ta ? a[1] : a[0]) as number, (tb ? b[0] : b[1]) as number], elemType: get(0).elemType }];
    }
    case 'MatMul':
    case 'MatMulInteger':
    case 'QLinearMatMul': {
      const a = get(0).dims;
      const b = get(op === 'QLinearMatMul' ? 3 : 1).dims;
      const batch = broadcast(a.slice(0, -2), b.slice(0, -2), where);
      return [{ dims: [...batch, a[a.length - 2] as number, b[b.length - 1] as number], elemType: get(0).elemType }];
    }
    case 'com.microsoft.QLinearAdd':
    case 'com.microsoft.QLinearMul': {
      return [{ dims: broadcast(get(0).dims, get(3).dims, where), elemType: get(0).elemType }];
    }
    case 'com.microsoft.QLinearSigmoid':
    case 'com.microsoft.QLinearLeakyRelu':
      return [{ dims: get(0).dims, elemType: get(0).elemType }];
    case 'com.microsoft.QLinearConcat': {
      const axis = attrInt(node, 'axis', 0);
      const xs: ShapeFact[] = [];
      for (let k = 2; k < node.inputs.length; k += 3) xs.push(get(k));
      const first = xs[0] as ShapeFact;
      const a = normAxis(axis, first.dims.length);
      const dims = [...first.dims];
      dims[a] = xs.reduce((s, f) => s + (f.dims[a] as number), 0);
      return [{ dims, elemType: first.elemType }];
    }
    default:
      throw new Error(`${where}: operator not supported by shape inference`);
  }
}
