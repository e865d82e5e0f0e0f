import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CocoBox, GroundTruth, ScoredBox } from './coco.js';

export interface CocoImage {
  id: number;
  file: string;
  width: number;
  height: number;
}

export interface CocoDataset {
  images: CocoImage[];
  groundTruth: GroundTruth[];
  /** category id → name */
  categories: Map<number, string>;
}

interface RawInstances {
  images?: Array<{ id?: unknown; file_name?: unknown; width?: unknown; height?: unknown }>;
  annotations?: Array<{ image_id?: unknown; category_id?: unknown; bbox?: unknown; area?: unknown; iscrowd?: unknown }>;
  categories?: Array<{ id?: unknown; name?: unknown }>;
}

/** Reads a COCO `instances*.json`; image files are resolved against `imageDir` (default: the JSON's folder). */
export function loadCocoInstances(file: string, imageDir = path.dirname(file)): CocoDataset {
  let raw: RawInstances;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8')) as RawInstances;
  } catch (e) {
    throw new Error(`${file}: cannot read COCO instances (${(e as Error).message})`);
  }
  if (!Array.isArray(raw.images) || !Array.isArray(raw.annotations))
    throw new Error(`${file}: not a COCO instances file (needs images and annotations)`);
  const images = raw.images.map((im, i): CocoImage => {
    if (typeof im.id !== 'number' || typeof im.file_name !== 'string' || typeof im.width !== 'number' || typeof im.height !== 'number') {
      throw new Error(`${file}: images[${i}] needs numeric id, width, height and a file_name`);
    }
    return { id: im.id, file: path.join(imageDir, im.file_name), width: im.width, height: im.height };
  });
  const groundTruth = raw.annotations.map((a, i): GroundTruth => {
    if (typeof a.image_id !== 'number' || typeof a.category_id !== 'number' || !Array.isArray(a.bbox) || a.bbox.length !== 4) {
      throw new Error(`${file}: annotations[${i}] needs image_id, category_id and a 4-number bbox`);
    }
    return {
      imageId: a.image_id,
      categoryId: a.category_id,
      bbox: a.bbox.map(Number) as CocoBox,
      ...(typeof a.area === 'number' ? { area: a.area } : {}),
      iscrowd: a.iscrowd === 1 || a.iscrowd === true,
    };
  });
  const categories = new Map<number, string>();
  for (const c of raw.categories ?? []) if (typeof c.id === 'number' && typeof c.name === 'string') categories.set(c.id, c.name);
  return { images, groundTruth, categories };
}

/** A normalised [x1, y1, x2, y2] detection → a COCO detection in the image's pixels. */
export function toCocoDetection(
  imageId: number,
  width: number,
  height: number,
  d: { class_id: number; score: number; box: readonly number[] },
): ScoredBox {
  const [x1, y1, x2, y2] = d.box as [number, number, number, number];
  return { imageId, categoryId: d.class_id, score: d.score, bbox: [x1 * width, y1 * height, (x2 - x1) * width, (y2 - y1) * height] };
}
