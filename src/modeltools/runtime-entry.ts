/**
 * The only module of the model tooling that the layers above the runtime (the daemon's service wiring,
 * bench) import: the TFLite converter the model store is given for a catalogued model's first run, the
 * quantizer settings an int8 model must have been made with, and the child process that quantizes one.
 * The runtime model store (src/models/) imports none of it: it declares what it needs
 * (`TfliteConverter`) and is handed this implementation. Everything else here (ONNX IR, TFLite reader,
 * calibration, evaluation, bundles) stays out of the daemon's import graph; the lint's import rules hold
 * both lines.
 */
export { tfliteConverter } from './convert.js';
export { activationTypeFor, defaultCalibrationSources } from './quantize/defaults.js';
export { quantSettings, type QuantSettings } from './quantize/settings.js';
export { quantizeInChild, staleReason as settingsStaleReason } from './quantize/quantize-child.js';
