/**
 * What the model store needs from the model tooling and cannot do itself: turning a catalogued TFLite
 * source into ONNX. The store is given one (`PrepareContext.converter`) by whoever wires it (the daemon's
 * service layer, the CLI commands, the tooling itself), so the runtime never imports the tooling.
 */
export interface TfliteConverter {
  /** the float ONNX graph; `classLogitTensors` / `uncappedTensors` say which class-logit saturations were dropped (provenance) */
  toFloat(tflite: Uint8Array): { onnx: Uint8Array; classLogitTensors: string[]; uncappedTensors: string[] };
  /** a QDQ ONNX graph keeping the source's own scales and zero points */
  toQdq(tflite: Uint8Array): Uint8Array;
}
