/**
 * A small, editable in-memory form of an ONNX model. Both the TFLite converter and the quantizer build
 * and rewrite graphs in this form; `loadOnnx`/`saveOnnx` translate it to and from protobuf bytes.
 */

/** TensorProto.DataType values (onnx.proto). */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

export type TensorData =
  | Float32Array
  | Float64Array
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** An initializer or a TENSOR attribute. FLOAT16 data are raw bits in a Uint16Array; BOOL is a Uint8Array. */
export interface OnnxTensor {
  name: string;
  dataType: DataTypeCode;
  dims: number[];
  data: TensorData;
}

/** A dimension: a fixed size, a symbolic name (e.g. "N"), or null when the model leaves it unknown. */
export type Dim = number | string | null;

export interface ValueInfo {
  name: string;
  elemType: DataTypeCode;
  /** null = rank unknown */
  shape: Dim[] | null;
}

export type OnnxAttribute =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: OnnxTensor }
  | { type: 'graph'; value: OnnxGraphBody }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] };

export interface OnnxNode {
  name: string;
  opType: string;
  /** '' = the default ai.onnx domain */
  domain: string;
  /** '' marks an omitted optional input */
  inputs: string[];
  outputs: string[];
  attributes: Record<string, OnnxAttribute>;
}

export interface OnnxGraphBody {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  valueInfo: ValueInfo[];
}

export interface OpsetImport {
  domain: string;
  version: number;
}

/** A whole model: the main graph plus what the ModelProto carries around it. */
export interface OnnxGraph extends OnnxGraphBody {
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName: string;
  producerVersion: string;
  docString: string;
  metadata: Record<string, string>;
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Allocates typed storage of the right kind for a data type. */
export function allocTensorData(dataType: DataTypeCode, length: number): TensorData {
  switch (dataType) {
    case DataType.FLOAT:
      return new Float32Array(length);
    case DataType.DOUBLE:
      return new Float64Array(length);
    case DataType.UINT8:
    case DataType.BOOL:
      return new Uint8Array(length);
    case DataType.INT8:
      return new Int8Array(length);
    case DataType.UINT16:
    case DataType.FLOAT16:
      return new Uint16Array(length);
    case DataType.INT16:
      return new Int16Array(length);
    case DataType.INT32:
      return new Int32Array(length);
    case DataType.UINT32:
      return new Uint32Array(length);
    case DataType.INT64:
      return new BigInt64Array(length);
    case DataType.UINT64:
      return new BigUint64Array(length);
  }
}

export function isDataTypeCode(v: number): v is DataTypeCode {
  return (Object.values(DataType) as number[]).includes(v);
}

export function dataTypeName(code: number): string {
  for (const [k, v] of Object.entries(DataType)) if (v === code) return k.toLowerCase();
  return `type#${code}`;
}

/** Lookup helpers for editing: a tensor's producer node and consumer nodes by value name. */
export function indexGraph(graph: OnnxGraphBody): {
  producer: Map<string, OnnxNode>;
  consumers: Map<string, OnnxNode[]>;
  initializer: Map<string, OnnxTensor>;
} {
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const n of graph.nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const i of n.inputs) {
      if (!i) continue;
      const list = consumers.get(i);
      if (list) list.push(n);
      else consumers.set(i, [n]);
    }
  }
  return { producer, consumers, initializer: new Map(graph.initializers.map((t) => [t.name, t])) };
}

/** Reads an attribute with a default, checking its kind. */
export function attrInt(node: OnnxNode, name: string, dflt: number): number {
  const a = node.attributes[name];
  if (a === undefined) return dflt;
  if (a.type !== 'int') throw new Error(`node ${node.name} (${node.opType}): attribute ${name} is ${a.type}, expected int`);
  return a.value;
}

export function attrInts(node: OnnxNode, name: string): number[] | undefined {
  const a = node.attributes[name];
  if (a === undefined) return undefined;
  if (a.type !== 'ints') throw new Error(`node ${node.name} (${node.opType}): attribute ${name} is ${a.type}, expected ints`);
  return a.value;
}

export function attrString(node: OnnxNode, name: string, dflt: string): string {
  const a = node.attributes[name];
  if (a === undefined) return dflt;
  if (a.type !== 'string') throw new Error(`node ${node.name} (${node.opType}): attribute ${name} is ${a.type}, expected string`);
  return a.value;
}
