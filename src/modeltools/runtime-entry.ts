/**
 * The only module of the model tooling that the runtime (daemon, pipeline, bench) imports: the float
 * conversion a catalogued TFLite model needs before its first run, the quantizer settings an int8 model
 * must have been made with, and the child process that quantizes one. Everything else here (ONNX IR,
 * TFLite reader, calibration, evaluation, bundles) stays out of the daemon's import graph; the lint's
 * import rules hold that line.
 */
export { convertTflite, convertTfliteReport } from './convert.js';
export { activationTypeFor, defaultCalibrationSources } from './quantize/defaults.js';
export { quantSettings, type QuantSettings } from './quantize/settings.js';
export { quantizeInChild, staleReason as settingsStaleReason } from './quantize/quantize-child.js';
