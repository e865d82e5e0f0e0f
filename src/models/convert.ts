import { saveOnnx } from './onnx/io.js';
import type { OnnxGraph } from './onnx/graph.js';
import { readTflite } from './tflite/model.js';
import { tfliteToOnnxGraph, type ConvertOptions } from './tflite/to-onnx.js';

export type { ConvertForm, ConvertOptions } from './tflite/to-onnx.js';
export { SUPPORTED_OPERATORS } from './tflite/to-onnx.js';
export { TfliteFormatError } from './tflite/flat.js';

/**
 * TFLite flatbuffer → ONNX graph (NCHW, opset 13). Throws TfliteFormatError for a corrupt or truncated
 * file and an Error naming the operator and its index for anything unsupported.
 */
export function convertTfliteToGraph(tflite: Uint8Array, opts: ConvertOptions): OnnxGraph {
  const model = readTflite(tflite);
  const sg = model.subgraphs[0];
  if (!sg) throw new Error('TFLite model has no subgraph');
  if (model.subgraphs.length > 1) throw new Error(`TFLite model has ${model.subgraphs.length} subgraphs; only single-subgraph models are supported`);
  const graph = tfliteToOnnxGraph(sg, opts);
  graph.docString = `converted from TFLite (${opts.form} form) by edgesight`;
  return graph;
}

/** TFLite flatbuffer → ONNX model bytes. */
export function convertTflite(tflite: Uint8Array, opts: ConvertOptions): Buffer {
  return saveOnnx(convertTfliteToGraph(tflite, opts));
}
