import { FlatTable, TfliteFormatError } from './flat.js';
import {
  ActivationFunctionType,
  BufferField,
  BuiltinOperator,
  builtinOperatorName,
  BuiltinOptionsType,
  ModelField,
  OperatorCodeField,
  OperatorField,
  Padding,
  QuantizationField,
  SubGraphField,
  TensorField,
} from './tflite-schema.js';

export interface TfliteQuantization {
  scale: number[];
  zeroPoint: number[];
  /** axis of per-channel parameters (meaningful when scale has more than one entry) */
  quantizedDimension: number;
}

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  type: number;
  /** constant data (little-endian) or null for activations */
  data: Uint8Array | null;
  quantization: TfliteQuantization | null;
}

export type Activation = 'none' | 'relu' | 'relu6' | 'relu_n1_to_1';

export interface ConvOptions {
  kind: 'conv';
  padding: 'same' | 'valid';
  strideW: number;
  strideH: number;
  dilationW: number;
  dilationH: number;
  activation: Activation;
  /** depthwise only */
  depthMultiplier: number;
}
export interface PoolOptions {
  kind: 'pool';
  padding: 'same' | 'valid';
  strideW: number;
  strideH: number;
  filterW: number;
  filterH: number;
  activation: Activation;
}
export interface ElementwiseOptions {
  kind: 'elementwise';
  activation: Activation;
}
export interface ConcatOptions {
  kind: 'concat';
  axis: number;
  activation: Activation;
}
export interface ReshapeOptions {
  kind: 'reshape';
  newShape: number[] | null;
}
export interface NoOptions {
  kind: 'none';
}
export type OperatorOptions = ConvOptions | PoolOptions | ElementwiseOptions | ConcatOptions | ReshapeOptions | NoOptions;

export interface TfliteOperator {
  index: number;
  builtinCode: number;
  opName: string;
  customCode: string;
  inputs: number[];
  outputs: number[];
  options: OperatorOptions;
}

export interface TfliteSubgraph {
  name: string;
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
}

export interface TfliteModel {
  version: number;
  description: string;
  subgraphs: TfliteSubgraph[];
}

const FILE_IDENTIFIER = 'TFL3';

/** Parses a .tflite flatbuffer. Throws a TfliteFormatError for anything truncated or malformed. */
export function readTflite(bytes: Uint8Array, what = 'TFLite model'): TfliteModel {
  if (bytes.length >= 8) {
    const ident = String.fromCharCode(...bytes.subarray(4, 8));
    if (ident !== FILE_IDENTIFIER) {
      throw new TfliteFormatError(`${what}: file identifier is ${JSON.stringify(ident)}, expected "${FILE_IDENTIFIER}" (not a TFLite model)`);
    }
  }
  const root = FlatTable.root(bytes, what);
  const version = root.uint32(ModelField.version, 0);
  if (version !== 3) throw new TfliteFormatError(`${what}: schema version ${version}, only version 3 is supported`);

  const buffers = root.tables(ModelField.buffers, 'buffers').map((b) => readBuffer(b, bytes));
  const codes = root.tables(ModelField.operatorCodes, 'operator_codes').map((c) => {
    // Codes above 127 only fit in builtin_code; older files only set deprecated_builtin_code.
    const deprecated = c.int8(OperatorCodeField.deprecatedBuiltinCode, 0);
    const builtin = c.int32(OperatorCodeField.builtinCode, 0);
    return { code: Math.max(deprecated, builtin), custom: c.string(OperatorCodeField.customCode, 'custom_code') };
  });
  const subgraphs = root.tables(ModelField.subgraphs, 'subgraphs').map((sg, si) => {
    const tensors = sg.tables(SubGraphField.tensors, 'tensors').map((t, i) => readTensor(t, i, buffers));
    const checkIndex = (idx: number, where: string): void => {
      if (idx !== -1 && (idx < 0 || idx >= tensors.length)) {
        throw new TfliteFormatError(`${what}: subgraph ${si} ${where} refers to tensor ${idx}, but there are ${tensors.length}`);
      }
    };
    const operators = sg.tables(SubGraphField.operators, 'operators').map((op, i) => {
      const opcodeIndex = op.uint32(OperatorField.opcodeIndex, 0);
      const code = codes[opcodeIndex];
      if (!code) throw new TfliteFormatError(`${what}: operator ${i} uses opcode index ${opcodeIndex}, but there are ${codes.length}`);
      const inputs = op.int32s(OperatorField.inputs, 'inputs');
      const outputs = op.int32s(OperatorField.outputs, 'outputs');
      for (const t of [...inputs, ...outputs]) checkIndex(t, `operator ${i}`);
      return {
        index: i,
        builtinCode: code.code,
        opName: code.custom ? `CUSTOM(${code.custom})` : builtinOperatorName(code.code),
        customCode: code.custom,
        inputs,
        outputs,
        options: readOptions(op, code.code, i),
      };
    });
    const inputs = sg.int32s(SubGraphField.inputs, 'inputs');
    const outputs = sg.int32s(SubGraphField.outputs, 'outputs');
    for (const t of [...inputs, ...outputs]) checkIndex(t, 'inputs/outputs');
    return { name: sg.string(SubGraphField.name, 'name'), tensors, inputs, outputs, operators };
  });
  if (subgraphs.length === 0) throw new TfliteFormatError(`${what}: model has no subgraphs`);
  return { version, description: root.string(ModelField.description, 'description'), subgraphs };
}

function readBuffer(b: FlatTable, file: Uint8Array): Uint8Array | null {
  const data = b.bytes(BufferField.data, 'data');
  if (data && data.length > 0) return data;
  // Models over 2 GB keep buffers after the flatbuffer, addressed by offset/size.
  const offset = b.uint64(BufferField.offset, 0);
  const size = b.uint64(BufferField.size, 0);
  if (offset > 1) {
    b.check(offset, size, 'external buffer');
    return file.subarray(offset, offset + size);
  }
  return null;
}

function readTensor(t: FlatTable, index: number, buffers: (Uint8Array | null)[]): TfliteTensor {
  const bufferIndex = t.uint32(TensorField.buffer, 0);
  if (bufferIndex >= buffers.length && buffers.length > 0) {
    throw new TfliteFormatError(`${t.path}: buffer index ${bufferIndex} out of range (${buffers.length} buffers)`);
  }
  const q = t.table(TensorField.quantization, 'quantization');
  let quantization: TfliteQuantization | null = null;
  if (q) {
    const scale = q.float32s(QuantizationField.scale, 'scale');
    const zeroPoint = q.int64s(QuantizationField.zeroPoint, 'zero_point');
    if (scale.length > 0) {
      if (zeroPoint.length !== scale.length) {
        throw new TfliteFormatError(`${t.path}: ${scale.length} scales but ${zeroPoint.length} zero points`);
      }
      quantization = { scale, zeroPoint, quantizedDimension: q.int32(QuantizationField.quantizedDimension, 0) };
    }
  }
  return {
    index,
    name: t.string(TensorField.name, 'name'),
    shape: t.int32s(TensorField.shape, 'shape'),
    type: t.int8(TensorField.type, 0),
    data: buffers[bufferIndex] ?? null,
    quantization,
  };
}

function activation(code: number, where: string): Activation {
  switch (code) {
    case ActivationFunctionType.NONE:
      return 'none';
    case ActivationFunctionType.RELU:
      return 'relu';
    case ActivationFunctionType.RELU6:
      return 'relu6';
    case ActivationFunctionType.RELU_N1_TO_1:
      return 'relu_n1_to_1';
    default:
      throw new TfliteFormatError(`${where}: fused activation ${code} (TANH/SIGN_BIT) is not supported`);
  }
}

function padding(code: number, where: string): 'same' | 'valid' {
  if (code === Padding.SAME) return 'same';
  if (code === Padding.VALID) return 'valid';
  throw new TfliteFormatError(`${where}: unknown padding ${code}`);
}

function readOptions(op: FlatTable, code: number, index: number): OperatorOptions {
  const where = `operator ${index} (${builtinOperatorName(code)})`;
  const type = op.uint8(OperatorField.builtinOptionsType, 0);
  const opts = op.table(OperatorField.builtinOptions, 'builtin_options');
  const expect = (want: number): FlatTable | null => {
    if (type !== BuiltinOptionsType.NONE && type !== want) {
      throw new TfliteFormatError(`${where}: builtin_options type ${type}, expected ${want}`);
    }
    return type === want ? opts : null;
  };
  switch (code) {
    case BuiltinOperator.CONV_2D: {
      const o = expect(BuiltinOptionsType.Conv2DOptions);
      return {
        kind: 'conv',
        padding: padding(o?.int8(0, 0) ?? 0, where),
        strideW: o?.int32(1, 0) ?? 0,
        strideH: o?.int32(2, 0) ?? 0,
        activation: activation(o?.int8(3, 0) ?? 0, where),
        dilationW: o?.int32(4, 1) ?? 1,
        dilationH: o?.int32(5, 1) ?? 1,
        depthMultiplier: 1,
      };
    }
    case BuiltinOperator.DEPTHWISE_CONV_2D: {
      const o = expect(BuiltinOptionsType.DepthwiseConv2DOptions);
      return {
        kind: 'conv',
        padding: padding(o?.int8(0, 0) ?? 0, where),
        strideW: o?.int32(1, 0) ?? 0,
        strideH: o?.int32(2, 0) ?? 0,
        depthMultiplier: o?.int32(3, 0) ?? 0,
        activation: activation(o?.int8(4, 0) ?? 0, where),
        dilationW: o?.int32(5, 1) ?? 1,
        dilationH: o?.int32(6, 1) ?? 1,
      };
    }
    case BuiltinOperator.AVERAGE_POOL_2D:
    case BuiltinOperator.MAX_POOL_2D: {
      const o = expect(BuiltinOptionsType.Pool2DOptions);
      return {
        kind: 'pool',
        padding: padding(o?.int8(0, 0) ?? 0, where),
        strideW: o?.int32(1, 0) ?? 0,
        strideH: o?.int32(2, 0) ?? 0,
        filterW: o?.int32(3, 0) ?? 0,
        filterH: o?.int32(4, 0) ?? 0,
        activation: activation(o?.int8(5, 0) ?? 0, where),
      };
    }
    case BuiltinOperator.ADD:
      return { kind: 'elementwise', activation: activation(expect(BuiltinOptionsType.AddOptions)?.int8(0, 0) ?? 0, where) };
    case BuiltinOperator.MUL:
      return { kind: 'elementwise', activation: activation(expect(BuiltinOptionsType.MulOptions)?.int8(0, 0) ?? 0, where) };
    case BuiltinOperator.CONCATENATION: {
      const o = expect(BuiltinOptionsType.ConcatenationOptions);
      return { kind: 'concat', axis: o?.int32(0, 0) ?? 0, activation: activation(o?.int8(1, 0) ?? 0, where) };
    }
    case BuiltinOperator.RESHAPE: {
      const o = expect(BuiltinOptionsType.ReshapeOptions);
      const s = o?.int32s(0, 'new_shape') ?? [];
      return { kind: 'reshape', newShape: s.length > 0 ? s : null };
    }
    default:
      return { kind: 'none' };
  }
}
