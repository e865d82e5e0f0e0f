import type { TfliteConverter } from '../models/converter.js';
import { saveOnnx } from './onnx/io.js';
import type { OnnxGraph } from './onnx/graph.js';
import { readTflite } from './tflite/tflite-model.js';
import { tfliteToOnnx, type ConvertOptions, type ConvertReport } from './tflite/to-onnx.js';

export type { ConvertForm, ConvertOptions, ConvertReport } from './tflite/to-onnx.js';
export { SUPPORTED_OPERATORS } from './tflite/to-onnx.js';
export { TfliteFormatError } from './tflite/flat.js';

/**
 * TFLite flatbuffer → ONNX graph (NCHW, opset 13). Throws TfliteFormatError for a corrupt or truncated
 * file and an Error naming the operator and its index for anything unsupported.
 */
export function convertTfliteToGraph(tflite: Uint8Array, opts: ConvertOptions): OnnxGraph {
  return convertTfliteWithReport(tflite, opts).graph;
}

function convertTfliteWithReport(tflite: Uint8Array, opts: ConvertOptions): { graph: OnnxGraph; report: ConvertReport } {
  const model = readTflite(tflite);
  const sg = model.subgraphs[0];
  if (!sg) throw new Error('TFLite model has no subgraph');
  if (model.subgraphs.length > 1) throw new Error(`TFLite model has ${model.subgraphs.length} subgraphs; only single-subgraph models are supported`);
  const r = tfliteToOnnx(sg, opts);
  const cap =
    opts.form === 'float' && r.report.classLogitTensors.length
      ? opts.keepScoreCap
        ? ', class-logit saturations kept'
        : ', class-logit upper saturations dropped'
      : '';
  r.graph.docString = `converted from TFLite (${opts.form} form${cap}) by edgesight`;
  return r;
}

/** TFLite flatbuffer → ONNX model bytes. */
export function convertTflite(tflite: Uint8Array, opts: ConvertOptions): Buffer {
  return saveOnnx(convertTfliteToGraph(tflite, opts));
}

/** TFLite flatbuffer → ONNX model bytes plus what the conversion decided (for provenance). */
export function convertTfliteReport(tflite: Uint8Array, opts: ConvertOptions): { onnx: Buffer; report: ConvertReport } {
  const r = convertTfliteWithReport(tflite, opts);
  return { onnx: saveOnnx(r.graph), report: r.report };
}

/** The model store's TFLite → ONNX step (float and faithful QDQ), done in-process by this converter. */
export const tfliteConverter: TfliteConverter = {
  toFloat(tflite) {
    const { onnx, report } = convertTfliteReport(tflite, { form: 'float' });
    return { onnx, classLogitTensors: report.classLogitTensors, uncappedTensors: report.uncappedTensors };
  },
  toQdq: (tflite) => convertTflite(tflite, { form: 'qdq' }),
};
