import { readFileSync } from 'node:fs';
import { AttributeType, ModelProtoType } from './onnx-schema.js';
import {
  allocTensorData,
  DataType,
  dataTypeName,
  elementCount,
  isDataTypeCode,
  type Dim,
  type OnnxAttribute,
  type OnnxGraph,
  type OnnxGraphBody,
  type OnnxNode,
  type OnnxTensor,
  type TensorData,
  type ValueInfo,
} from './graph.js';

// Plain-object shapes produced by protobufjs toObject({ longs: String }); int64 fields arrive as strings.
type I64 = string | number;
interface PTensor {
  dims?: I64[];
  dataType?: number;
  floatData?: number[];
  int32Data?: number[];
  stringData?: Uint8Array[];
  int64Data?: I64[];
  name?: string;
  rawData?: Uint8Array;
  externalData?: unknown[];
  dataLocation?: number;
  doubleData?: number[];
  uint64Data?: I64[];
}
interface PDim {
  dimValue?: I64;
  dimParam?: string;
}
interface PValueInfo {
  name?: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: PDim[] } } };
}
interface PAttribute {
  name?: string;
  refAttrName?: string;
  type?: number;
  f?: number;
  i?: I64;
  s?: Uint8Array;
  t?: PTensor;
  g?: PGraph;
  floats?: number[];
  ints?: I64[];
  strings?: Uint8Array[];
  tensors?: PTensor[];
  graphs?: PGraph[];
}
interface PNode {
  input?: string[];
  output?: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute?: PAttribute[];
}
interface PGraph {
  node?: PNode[];
  name?: string;
  initializer?: PTensor[];
  sparseInitializer?: Uint8Array[];
  input?: PValueInfo[];
  output?: PValueInfo[];
  valueInfo?: PValueInfo[];
}
interface PModel {
  irVersion?: I64;
  opsetImport?: { domain?: string; version?: I64 }[];
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  graph?: PGraph;
  metadataProps?: { key?: string; value?: string }[];
  functions?: Uint8Array[];
}

const utf8 = new TextDecoder('utf-8');
const utf8enc = new TextEncoder();

/** Parses ONNX model bytes (or a file path) into the editable graph form. */
export function loadOnnx(source: string | Uint8Array): OnnxGraph {
  const bytes = typeof source === 'string' ? readFileSync(source) : source;
  const where = typeof source === 'string' ? source : 'ONNX buffer';
  let model: PModel;
  try {
    const msg = ModelProtoType.decode(bytes);
    model = ModelProtoType.toObject(msg, { longs: String, arrays: false, defaults: false }) as PModel;
  } catch (err) {
    throw new Error(`${where}: not a valid ONNX protobuf (${(err as Error).message})`);
  }
  if (!model.graph) throw new Error(`${where}: ModelProto has no graph`);
  if (model.functions && model.functions.length > 0) throw new Error(`${where}: model-local functions are not supported`);
  const metadata: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) metadata[p.key ?? ''] = p.value ?? '';
  return {
    ...decodeGraph(model.graph, where),
    irVersion: Number(model.irVersion ?? 0),
    opsetImports: (model.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: Number(o.version ?? 0) })),
    producerName: model.producerName ?? '',
    producerVersion: model.producerVersion ?? '',
    docString: model.docString ?? '',
    metadata,
  };
}

function decodeGraph(g: PGraph, where: string): OnnxGraphBody {
  if (g.sparseInitializer && g.sparseInitializer.length > 0) {
    throw new Error(`${where}: graph ${g.name ?? ''} has sparse initializers, which are not supported`);
  }
  return {
    name: g.name ?? '',
    nodes: (g.node ?? []).map((n) => decodeNode(n, where)),
    initializers: (g.initializer ?? []).map((t) => decodeTensor(t, where)),
    inputs: (g.input ?? []).map((v) => decodeValueInfo(v, where)),
    outputs: (g.output ?? []).map((v) => decodeValueInfo(v, where)),
    valueInfo: (g.valueInfo ?? []).map((v) => decodeValueInfo(v, where)),
  };
}

function decodeNode(n: PNode, where: string): OnnxNode {
  const attributes: Record<string, OnnxAttribute> = {};
  const label = `node ${n.name ?? '?'} (${n.opType ?? '?'})`;
  for (const a of n.attribute ?? []) {
    const name = a.name ?? '';
    if (a.refAttrName) throw new Error(`${where}: ${label}: attribute references (function bodies) are not supported`);
    attributes[name] = decodeAttribute(a, `${where}: ${label} attribute ${name}`);
  }
  return {
    name: n.name ?? '',
    opType: n.opType ?? '',
    domain: n.domain ?? '',
    inputs: n.input ?? [],
    outputs: n.output ?? [],
    attributes,
  };
}

function decodeAttribute(a: PAttribute, where: string): OnnxAttribute {
  switch (a.type) {
    case AttributeType.FLOAT:
      return { type: 'float', value: a.f ?? 0 };
    case AttributeType.INT:
      return { type: 'int', value: Number(a.i ?? 0) };
    case AttributeType.STRING:
      return { type: 'string', value: utf8.decode(a.s ?? new Uint8Array(0)) };
    case AttributeType.TENSOR:
      if (!a.t) throw new Error(`${where}: TENSOR attribute without a tensor`);
      return { type: 'tensor', value: decodeTensor(a.t, where) };
    case AttributeType.GRAPH:
      if (!a.g) throw new Error(`${where}: GRAPH attribute without a graph`);
      return { type: 'graph', value: decodeGraph(a.g, where) };
    case AttributeType.FLOATS:
      return { type: 'floats', value: a.floats ?? [] };
    case AttributeType.INTS:
      return { type: 'ints', value: (a.ints ?? []).map(Number) };
    case AttributeType.STRINGS:
      return { type: 'strings', value: (a.strings ?? []).map((s) => utf8.decode(s)) };
    default:
      throw new Error(`${where}: attribute type ${a.type ?? 'missing'} is not supported`);
  }
}

function decodeTensor(t: PTensor, where: string): OnnxTensor {
  const name = t.name ?? '';
  const code = t.dataType ?? 0;
  const label = `${where}: tensor ${name}`;
  if ((t.externalData && t.externalData.length > 0) || t.dataLocation === 1) {
    throw new Error(`${label} uses external data, which is not supported (save the model with weights inline)`);
  }
  if (!isDataTypeCode(code)) throw new Error(`${label}: data type ${dataTypeName(code)} is not supported`);
  const dims = (t.dims ?? []).map(Number);
  const count = elementCount(dims);
  const data = allocTensorData(code, count);
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== data.byteLength) {
      throw new Error(`${label}: raw_data has ${t.rawData.length} bytes, dims ${JSON.stringify(dims)} need ${data.byteLength}`);
    }
    // raw_data is little-endian; copying into a fresh buffer also fixes alignment.
    new Uint8Array(data.buffer).set(t.rawData);
    return { name, dataType: code, dims, data };
  }
  const fill = (values: ArrayLike<number> | undefined, field: string): void => {
    const n = values?.length ?? 0;
    if (n !== count) throw new Error(`${label}: ${field} holds ${n} values, dims ${JSON.stringify(dims)} need ${count}`);
    if (values) (data as Float32Array).set(values);
  };
  switch (code) {
    case DataType.FLOAT:
      fill(t.floatData, 'float_data');
      break;
    case DataType.DOUBLE:
      fill(t.doubleData, 'double_data');
      break;
    case DataType.INT64:
    case DataType.UINT64: {
      const src = code === DataType.INT64 ? t.int64Data : t.uint64Data;
      if ((src?.length ?? 0) !== count) throw new Error(`${label}: int64 data holds ${src?.length ?? 0} values, need ${count}`);
      const big = data as BigInt64Array | BigUint64Array;
      for (let i = 0; i < count; i++) big[i] = BigInt(String((src as I64[])[i]));
      break;
    }
    case DataType.UINT32:
      fill((t.uint64Data ?? []).map(Number), 'uint64_data');
      break;
    default:
      // int8/uint8/int16/uint16/int32/bool/float16 live in int32_data (float16 as raw bits).
      fill(t.int32Data, 'int32_data');
  }
  return { name, dataType: code, dims, data };
}

function decodeValueInfo(v: PValueInfo, where: string): ValueInfo {
  const name = v.name ?? '';
  const tt = v.type?.tensorType;
  if (!tt) throw new Error(`${where}: value ${name} is not a tensor (sequence/map types are not supported)`);
  const elemType = tt.elemType ?? 0;
  if (!isDataTypeCode(elemType)) throw new Error(`${where}: value ${name} has unsupported element type ${dataTypeName(elemType)}`);
  const shape: Dim[] | null = tt.shape
    ? (tt.shape.dim ?? []).map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : d.dimParam !== undefined ? d.dimParam : null))
    : null;
  return { name, elemType, shape };
}

const INT64_MAX = '9223372036854775807';
const INT64_MIN = '-9223372036854775808';

/** int64 values are held as JS numbers; the extremes (used as "to the end" markers) are restored exactly. */
function int64Out(v: number): number | string {
  if (Number.isSafeInteger(v)) return v;
  if (v >= 2 ** 63) return INT64_MAX;
  if (v <= -(2 ** 63)) return INT64_MIN;
  return BigInt(Math.trunc(v)).toString();
}

function encodeTensor(t: OnnxTensor): PTensor {
  const count = elementCount(t.dims);
  if (t.data.length !== count) {
    throw new Error(`tensor ${t.name}: holds ${t.data.length} elements but dims ${JSON.stringify(t.dims)} need ${count}`);
  }
  const expected = allocTensorData(t.dataType, 0).constructor;
  if (t.data.constructor !== expected) {
    throw new Error(`tensor ${t.name}: ${dataTypeName(t.dataType)} needs a ${expected.name}, got a ${t.data.constructor.name}`);
  }
  return {
    name: t.name,
    dims: t.dims.map(int64Out),
    dataType: t.dataType,
    rawData: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
  };
}

function encodeAttribute(name: string, a: OnnxAttribute): PAttribute {
  switch (a.type) {
    case 'float':
      return { name, type: AttributeType.FLOAT, f: a.value };
    case 'int':
      return { name, type: AttributeType.INT, i: int64Out(a.value) };
    case 'string':
      return { name, type: AttributeType.STRING, s: utf8enc.encode(a.value) };
    case 'tensor':
      return { name, type: AttributeType.TENSOR, t: encodeTensor(a.value) };
    case 'graph':
      return { name, type: AttributeType.GRAPH, g: encodeGraph(a.value) };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: a.value };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: a.value.map(int64Out) };
    case 'strings':
      return { name, type: AttributeType.STRINGS, strings: a.value.map((s) => utf8enc.encode(s)) };
  }
}

function encodeValueInfo(v: ValueInfo): PValueInfo {
  const shape =
    v.shape === null
      ? undefined
      : {
          dim: v.shape.map((d): PDim => (typeof d === 'number' ? { dimValue: int64Out(d) } : typeof d === 'string' ? { dimParam: d } : {})),
        };
  return { name: v.name, type: { tensorType: shape ? { elemType: v.elemType, shape } : { elemType: v.elemType } } };
}

function encodeGraph(g: OnnxGraphBody): PGraph {
  return {
    name: g.name,
    node: g.nodes.map((n) => ({
      input: n.inputs,
      output: n.outputs,
      name: n.name,
      opType: n.opType,
      ...(n.domain ? { domain: n.domain } : {}),
      attribute: Object.entries(n.attributes).map(([k, a]) => encodeAttribute(k, a)),
    })),
    initializer: g.initializers.map(encodeTensor),
    input: g.inputs.map(encodeValueInfo),
    output: g.outputs.map(encodeValueInfo),
    valueInfo: g.valueInfo.map(encodeValueInfo),
  };
}

/** Serialises a graph to ONNX bytes (weights inline as raw_data). */
export function saveOnnx(graph: OnnxGraph): Buffer {
  const model: PModel = {
    irVersion: graph.irVersion,
    opsetImport: graph.opsetImports.map((o) => ({ domain: o.domain, version: o.version })),
    producerName: graph.producerName,
    producerVersion: graph.producerVersion,
    ...(graph.docString ? { docString: graph.docString } : {}),
    graph: encodeGraph(graph),
    metadataProps: Object.entries(graph.metadata).map(([key, value]) => ({ key, value })),
  };
  return Buffer.from(ModelProtoType.encode(model).finish());
}

export type { TensorData };
