import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { DetectionSpec, InputSpec, SegmentationSpec } from './manifest.js';
import { repoModelsDir } from './paths.js';
import { SSDLITE_320_ANCHORS } from '../postprocess/anchors.js';

/** A file the product knows how to obtain: a mirror-relative path and/or an upstream URL, pinned by sha256. */
export interface SourceFile {
  file: string;
  sha256: string;
  bytes: number;
  /** the copy shipped in the package, relative to its models/ folder (used first, no mirror or network needed) */
  packaged: string | null;
  /** paths tried under a mirror folder (EDGESIGHT_MODELS_MIRROR, --from, models.mirror) */
  mirrorPaths: string[];
  url: string | null;
  license: string;
}

export interface CatalogEntry {
  name: string;
  task: 'detection' | 'segmentation';
  /**
   * Bumped whenever the prepared model changes (conversion or quantizer defaults): a cached model
   * recording another version is prepared again. Recorded as provenance.model_version.
   */
  version: number;
  description: string;
  source: SourceFile;
  /** how the fp32 ONNX is made from the source: convert a TFLite float graph, or take the ONNX as it is */
  fp32From: 'tflite-float' | 'onnx';
  input: InputSpec;
  labelsFile: string;
  detection?: DetectionSpec;
  segmentation?: SegmentationSpec;
}

const RGB_M1_P1 = {
  color: 'RGB' as const,
  scale: 1 / 127.5,
  offset: -1,
  resize: 'stretch' as const,
  layout: 'NCHW' as const,
  dtype: 'float32' as const,
};

export const CATALOG: CatalogEntry[] = [
  {
    name: 'ssdlite_mobilenet_v3_small_coco',
    task: 'detection',
    // 2: class-logit upper saturations dropped (scores above 0.5); int8 with the robust calibration profile
    version: 2,
    description: 'SSDLite + MobileNetV3-Small 320×320, COCO (90 ids), weights from ARM ML-zoo int8 TFLite',
    source: {
      file: 'ssd_mobilenet_v3_small_coco_int8.tflite',
      sha256: '673978b17406e6b204ea8a0f2dac814f8b31ec1e9ddf13caa17362359a616fd2',
      bytes: 2423680,
      packaged: 'sources/ssd_mobilenet_v3_small_coco_int8.tflite',
      mirrorPaths: ['upstream/ssd_mobilenet_v3_small_coco_int8.tflite', 'ssd_mobilenet_v3_small_coco_int8.tflite'],
      url: 'https://github.com/ARM-software/ML-zoo/raw/e0329031d98bba34f07996dab675b20e3829d267/models/experimental/ssd_mobilenet_v3_int8/ssd_mobilenet_v3_int8.tflite',
      license: 'Apache-2.0 (ARM ML-zoo, derived from TensorFlow ssd_mobilenet_v3_small_coco_2019_08_14)',
    },
    fp32From: 'tflite-float',
    input: { name: 'image', width: 320, height: 320, ...RGB_M1_P1 },
    labelsFile: 'labels/coco_labels.txt',
    detection: {
      outputs: { scores: 'class_predictions', boxes: 'box_encodings' },
      num_anchors: 2034,
      anchors: SSDLITE_320_ANCHORS,
      box_coder: { type: 'faster_rcnn', scales: [10, 10, 5, 5] },
      score_activation: 'none',
      background_class: 0,
    },
  },
  {
    name: 'lraspp_mobilenet_v3_small_voc',
    task: 'segmentation',
    version: 1,
    description: 'LR-ASPP + MobileNetV3-Small (dilated), Pascal VOC 21 classes, logits at 1/8 (distilled v0)',
    source: {
      file: 'lraspp_mobilenet_v3_small_voc_fp32.onnx',
      sha256: '078bae7ebe9ec7c470fde92ba917ff9acd6252a58afd11dd56d4fe38d107d591',
      bytes: 4328958,
      packaged: 'sources/lraspp_mobilenet_v3_small_voc_fp32.onnx',
      mirrorPaths: ['lraspp/lraspp_mobilenet_v3_small_voc_fp32.onnx', 'lraspp_mobilenet_v3_small_voc_fp32.onnx'],
      url: null,
      license: 'Apache-2.0-derived weights (see its MODEL_CARD.md)',
    },
    fp32From: 'onnx',
    input: { name: 'image', width: null, height: null, multiple_of: 16, ...RGB_M1_P1 },
    labelsFile: 'labels/voc_labels.txt',
    segmentation: { outputs: { logits: 'logits' }, output_stride: 8 },
  },
];

export function catalogEntry(name: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.name === name);
}

/** Labels by class index. COCO's file lists category ids 1..90, so index 0 is the background. */
export function loadCatalogLabels(entry: CatalogEntry): string[] {
  const lines = readFileSync(path.join(repoModelsDir(), entry.labelsFile), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  return entry.task === 'detection' ? ['background', ...lines] : lines;
}
