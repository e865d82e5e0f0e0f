import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * One place for every path a test reads. Tests run from dist/test/**, but data stays in the source tree,
 * so everything is resolved from the repository root found above this file.
 */
function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'src', 'config'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the repository above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

export const REPO = findRepoRoot();
export const FIXTURES_DIR = path.join(REPO, 'test', 'fixtures');
/** Debian-sourced photos (skimage, OpenCV samples): see test/fixtures/NOTICE.md */
export const PHOTOS_DIR = path.join(FIXTURES_DIR, 'photos');
export const VIDEO_DIR = path.join(FIXTURES_DIR, 'video');
/** 384×288 MJPEG, 200 frames, pedestrians (OpenCV vtest.avi, first 20 s) */
export const VTEST_MJPEG = path.join(VIDEO_DIR, 'vtest_first20s_384x288_mjpeg.avi');
/** 768×432 H.264, 10 fps, people walk in one by one (Intel sample videos, CC-BY 4.0) */
export const ONE_BY_ONE_MP4 = path.join(VIDEO_DIR, 'one-by-one-person-detection.mp4');
/** 10 COCO train2017 photos with their instances (COCO terms) */
export const COCO_DIR = path.join(FIXTURES_DIR, 'coco');
/** float-reference outputs of the detector for astronaut and COCO 000000000790 (+ detections for all five photos) */
export const GOLDEN_DIR = path.join(FIXTURES_DIR, 'golden');
/** the shipped model sources (upstream TFLite detector, LR-ASPP fp32 ONNX) */
export const MODEL_SOURCES_DIR = path.join(REPO, 'models', 'sources');
export const TFLITE_DETECTOR = path.join(MODEL_SOURCES_DIR, 'ssd_mobilenet_v3_small_coco_int8.tflite');
export const LRASPP_FP32 = path.join(MODEL_SOURCES_DIR, 'lraspp_mobilenet_v3_small_voc_fp32.onnx');

export function photo(name: string): string {
  return path.join(PHOTOS_DIR, name);
}

/** The float reference detector (TensorFlow's own ONNX export), used only to cross-check the converter. */
export const REFERENCE_DETECTOR_FILE = 'ssdlite_mobilenet_v3_small_320_coco_fp32.onnx';

/**
 * The float reference detector, kept outside the repository: `EDGESIGHT_TEST_DATA/reference/<file>`, or
 * `models/reference/<file>` beside the EDGESIGHT_TEST_DATA folder (the development layout keeps data/ and
 * models/ side by side). Null when neither exists.
 */
export function referenceDetector(): string | null {
  const d = testData();
  if (!d) return null;
  for (const cand of [path.join(d, 'reference', REFERENCE_DETECTOR_FILE), path.join(d, '..', 'models', 'reference', REFERENCE_DETECTOR_FILE)]) {
    if (existsSync(cand)) return cand;
  }
  return null;
}

/** In a mocha `before`/`it`: skip, saying why, when the reference detector is not there. Returns its path. */
export function skipWithoutReferenceDetector(ctx: Mocha.Context, what: string): string {
  const f = referenceDetector();
  if (!f) {
    const why = `skipped: ${what} needs the float reference detector (${REFERENCE_DETECTOR_FILE} in EDGESIGHT_TEST_DATA/reference/ or in models/reference/ beside that folder)`;
    console.log(`      ${why}`);
    ctx.skip();
  }
  return f as string;
}

/**
 * Larger evaluation data kept outside the repository (the 80-photo COCO sample, VOC masks, the float
 * reference detector): the folder named by EDGESIGHT_TEST_DATA, laid out like the development data folder
 * (coco-train-sample/, voc-masks-train-sample/, ...). Null when unset or missing: gates that need it skip
 * with `skipWithoutTestData`.
 */
export function testData(): string | null {
  const d = process.env.EDGESIGHT_TEST_DATA;
  return d && existsSync(d) ? path.resolve(d) : null;
}

/** In a mocha `before`/`it`: skip, saying why, when EDGESIGHT_TEST_DATA is not there. Returns the folder. */
export function skipWithoutTestData(ctx: Mocha.Context, what: string): string {
  const d = testData();
  if (!d) {
    const why = `skipped: ${what} needs EDGESIGHT_TEST_DATA (a folder with coco-train-sample/ etc.; unset or missing here)`;
    console.log(`      ${why}`);
    ctx.skip();
  }
  return d as string;
}

/**
 * x86-64 without VNNI (AVX2 only): ONNX Runtime's u8×s8 kernels there sum pairs of products in 16 bits
 * (vpmaddubsw) and saturate on large weights, so int8 results drift from exact integer arithmetic. Tests
 * that compare quantized outputs tightly skip there, saying so; ARM (npm run test:arm64) and VNNI x86 run them.
 */
export function x86WithoutVnni(): boolean {
  if (process.arch !== 'x64') return false;
  try {
    const flags = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
    return !flags.some((f) => f === 'avx512_vnni' || f === 'avx_vnni');
  } catch {
    return false;
  }
}

export function skipOnSaturatingInt8Kernels(ctx: Mocha.Context): void {
  if (!x86WithoutVnni()) return;
  console.log(
    "      skipped: this x86-64 CPU has no VNNI; ONNX Runtime's AVX2 u8×s8 kernels saturate 16-bit pair sums, so int8 outputs are not exact here (the ARM check and VNNI machines run this)",
  );
  ctx.skip();
}
