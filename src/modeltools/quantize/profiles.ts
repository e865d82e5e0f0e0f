import type { RangeMethod } from './histogram.js';

/**
 * Per-model quantization defaults. The algorithm knows nothing about particular networks; what a model
 * needs (which tensors stay float, which use min/max) lives here, keyed by catalog name, with the
 * measurement behind each choice (the per-layer error report of `edgesight models quantize --report`).
 */
export interface QuantProfile {
  /** tensors or node names kept in float; `*` matches any run of characters */
  exclude: string[];
  /** float tensors read by one depthwise Conv, quantized per channel so that conv runs in int8 (depthwise-input.ts) */
  perChannelDepthwise?: string[];
  /** range method for tensors matching a pattern (first match wins); everything else uses `method` */
  methodOverrides: Array<{ pattern: string; method: RangeMethod }>;
  /** default range method for the body */
  method: RangeMethod;
  percentile: number;
  /** for the `frames` method: the quantile (in %) of the calibration inputs' own extremes */
  framePercentile: number;
  /** bias-correction sweeps over the int8 convs (0 = none; QuantizeOptions.biasCorrection) */
  biasCorrection: number;
  /** why, for the manifest's provenance */
  notes: string;
}

export const GENERIC_PROFILE: QuantProfile = {
  exclude: [],
  methodOverrides: [],
  method: 'percentile',
  percentile: 99.99,
  framePercentile: 90,
  biasCorrection: 0,
  notes: 'generic: every Conv/Add/Mul/Concat/pool/sigmoid tensor in 8 bits, percentile 99.99 ranges',
};

export const PROFILES: Record<string, QuantProfile> = {
  ssdlite_mobilenet_v3_small_coco: {
    // The first conv output and the first h-swish output (160×160×16) cost almost all of the int8 loss:
    // their −31…64 range gives a 0.25 step, and the next depthwise conv has weights of 22–28 on channels
    // that peak below 1. Keeping the image input float too lets that first conv run in float at no extra
    // conversion (its input would otherwise be quantized only to be dequantized again).
    // Not kept float, though measured better: the squeeze-excite internals (SQUEEZE_EXCITE_FLOAT) gain
    // ~0.009 mAP on the COCO sample but cost ~2.4% more instructions on Cortex-A76 (docs/detector-accuracy.md).
    exclude: ['image', 'FeatureExtractor/MobilenetV3/Conv/BatchNorm/FusedBatchNormV3_a', 'FeatureExtractor/MobilenetV3/Conv/hard_swish/mul_1'],
    // That h-swish output is quantized per channel instead (its channels peak between 0.06 and 64), so
    // the first depthwise conv runs as QLinearConv: 8.0 M → ~1.6 M ARM instructions, mAP unchanged
    // (docs/arm-performance.md). The first conv stays float: ORT's int8 kernel is slower with 3 input
    // channels (14.5 M vs 10.2 M on Cortex-A72) and 8 bits per tensor on its output lose half the mAP.
    perChannelDepthwise: ['FeatureExtractor/MobilenetV3/Conv/hard_swish/mul_1'],
    // Clipping the class-logit tail caps the top scores and ruins the ranking: heads use min/max.
    methodOverrides: [
      { pattern: 'BoxPredictor_*/BoxEncodingPredictor/*', method: 'minmax' },
      { pattern: 'BoxPredictor_*/ClassPredictor/*', method: 'minmax' },
      { pattern: 'BoxPredictor_*/Reshape*', method: 'minmax' },
      { pattern: 'concat*', method: 'minmax' },
      { pattern: 'raw_outputs/*', method: 'minmax' },
      { pattern: 'class_predictions', method: 'minmax' },
      { pattern: 'box_encodings', method: 'minmax' },
    ],
    // After the ranges are set, one bias-correction sweep: every int8 conv's bias moved by its output's mean
    // error against float, shallow convs first. Measured on the COCO sample (docs/detector-accuracy.md):
    // mAP 0.1978 → 0.2016 (float 0.2082); over four calibration selections 0.2016–0.2106, where before one of
    // them collapsed to 0.155. It changes bias values only, so the graph and its cost stay the same.
    // Ranges from each image's extremes (`frames`) scored 0.2051 on the shipped set but 0.1981–0.2018 on two
    // of its halves (0.2027–0.2050 with percentile ranges): not kept, the gain depended on the selection.
    method: 'percentile',
    percentile: 99.99,
    framePercentile: 90,
    biasCorrection: 1,
    notes:
      'first conv + first h-swish outputs kept float, the h-swish output quantized per channel for the first depthwise conv; heads (predictor outputs, concats, sigmoid) min/max; body percentile 99.99; one bias-correction sweep',
  },
  lraspp_mobilenet_v3_small_voc: {
    // The logits feed an argmax: 8-bit logits tie neighbouring classes, and the final Add is tiny.
    exclude: ['logits'],
    methodOverrides: [
      { pattern: '/classifier/low_classifier/*', method: 'minmax' },
      { pattern: '/classifier/high_classifier/*', method: 'minmax' },
    ],
    method: 'percentile',
    percentile: 99.99,
    framePercentile: 90,
    biasCorrection: 0,
    notes: 'logits kept float (argmax); classifier convs min/max; body percentile 99.99',
  },
};

/**
 * `--keep-float` patterns that keep the detector's squeeze-excite internals in float (the gate itself stays
 * quantized): +0.009 mAP on the COCO sample, +0.5% instructions on Cortex-A72 and +2.4% on Cortex-A76.
 */
export const SQUEEZE_EXCITE_FLOAT = [
  'FeatureExtractor/*/squeeze_excite/Conv/*',
  'FeatureExtractor/*/squeeze_excite/Conv_1/BiasAdd*',
  'FeatureExtractor/*/squeeze_excite/Conv_1/Relu6*',
];

export function profileFor(name: string | null): QuantProfile {
  return (name ? PROFILES[name] : undefined) ?? GENERIC_PROFILE;
}

/** `*` glob → RegExp, anchored; everything else literal. */
export function globToRegExp(pattern: string): RegExp {
  return new RegExp(
    '^' +
      pattern
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*') +
      '$',
  );
}
