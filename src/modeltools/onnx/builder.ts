import {
  DataType,
  type DataTypeCode,
  type OnnxAttribute,
  type OnnxGraph,
  type OnnxNode,
  type OnnxTensor,
  type TensorData,
  type ValueInfo,
} from './graph.js';
import { NameAllocator } from './names.js';

/** Attribute values written the short way: numbers are ints unless wrapped with `f()`. */
export type AttrValue = number | string | number[] | { float: number } | { floats: number[] } | OnnxTensor;

export function f(value: number): { float: number } {
  return { float: value };
}

function toAttribute(v: AttrValue): OnnxAttribute {
  if (typeof v === 'number') return { type: 'int', value: v };
  if (typeof v === 'string') return { type: 'string', value: v };
  if (Array.isArray(v)) return { type: 'ints', value: v };
  if ('float' in v) return { type: 'float', value: v.float };
  if ('floats' in v) return { type: 'floats', value: v.floats };
  return { type: 'tensor', value: v };
}

/**
 * Appends nodes and initializers to a graph with names that are unique (and safe against ONNX Runtime's
 * renaming, see NameAllocator). Works on a new graph or on a loaded one being edited.
 */
export class GraphBuilder {
  readonly names: NameAllocator;

  constructor(readonly graph: OnnxGraph) {
    const all: string[] = [];
    for (const n of graph.nodes) all.push(n.name, ...n.outputs);
    for (const t of graph.initializers) all.push(t.name);
    for (const v of graph.inputs) all.push(v.name);
    this.names = new NameAllocator(all.filter((s) => s !== ''));
  }

  static empty(name: string, opset = 13): GraphBuilder {
    return new GraphBuilder({
      name,
      nodes: [],
      initializers: [],
      inputs: [],
      outputs: [],
      valueInfo: [],
      irVersion: 7,
      opsetImports: [{ domain: '', version: opset }],
      producerName: 'edgesight',
      producerVersion: '0.1.0',
      docString: '',
      metadata: {},
    });
  }

  input(name: string, elemType: DataTypeCode, shape: ValueInfo['shape']): string {
    this.names.reserve(name);
    this.graph.inputs.push({ name, elemType, shape });
    return name;
  }

  output(name: string, elemType: DataTypeCode, shape: ValueInfo['shape']): void {
    this.graph.outputs.push({ name, elemType, shape });
  }

  initializer(base: string, dataType: DataTypeCode, dims: number[], data: TensorData): string {
    const name = this.names.value(base);
    this.graph.initializers.push({ name, dataType, dims, data });
    return name;
  }

  /** A 0-d float32 tensor (ONNX Runtime's QDQ fusions want scalar scales as 0-d, not [1]). */
  scalarF32(base: string, value: number): string {
    return this.initializer(base, DataType.FLOAT, [], Float32Array.of(value));
  }

  int64s(base: string, values: number[]): string {
    return this.initializer(base, DataType.INT64, [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  /**
   * Adds a node. `outputs` are name bases (made unique) unless `exactOutputs` is set, e.g. for graph outputs
   * whose names are fixed. Returns the output names.
   */
  node(
    opType: string,
    inputs: string[],
    outputs: string[],
    attrs: Record<string, AttrValue> = {},
    opts: { name?: string; exactOutputs?: boolean; domain?: string } = {},
  ): string[] {
    const outNames = outputs.map((o) => {
      if (opts.exactOutputs) {
        this.names.reserve(o);
        return o;
      }
      return this.names.value(o);
    });
    const attributes: Record<string, OnnxAttribute> = {};
    for (const [k, v] of Object.entries(attrs)) attributes[k] = toAttribute(v);
    const node: OnnxNode = {
      name: this.names.node(opts.name ?? `${outNames[0] ?? 'node'}/${opType}`),
      opType,
      domain: opts.domain ?? '',
      inputs,
      outputs: outNames,
      attributes,
    };
    this.graph.nodes.push(node);
    return outNames;
  }

  /** Single-output shorthand. */
  op(
    opType: string,
    inputs: string[],
    output: string,
    attrs: Record<string, AttrValue> = {},
    opts: { name?: string; exactOutputs?: boolean } = {},
  ): string {
    const out = this.node(opType, inputs, [output], attrs, opts)[0];
    if (out === undefined) throw new Error('unreachable: node without output');
    return out;
  }
}
