/**
 * The segmenter speaks Pascal VOC class names, the detector COCO labels. Where the two name the same
 * thing differently, this is the one translation table (zone coverage per label, privacy boxes per class).
 */
const RENAMED: Readonly<Record<string, string>> = {
  aeroplane: 'airplane',
  diningtable: 'dining table',
  motorbike: 'motorcycle',
  pottedplant: 'potted plant',
  sofa: 'couch',
  tvmonitor: 'tv',
};
const SAME = ['bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'dog', 'horse', 'person', 'sheep', 'train'];

const VOC_TO_COCO = new Map<string, string>([...SAME.map((s) => [s, s] as [string, string]), ...Object.entries(RENAMED)]);
const COCO_TO_VOC = new Map<string, string>([...VOC_TO_COCO].map(([v, c]) => [c, v]));

/** The detector label for a segmenter class; undefined when the detector has no such label (background). */
export function cocoLabelOf(vocClass: string): string | undefined {
  return VOC_TO_COCO.get(vocClass);
}

/** The segmenter class for a detector label; undefined when the segmenter has no such class (truck, …). */
export function vocClassOf(cocoLabel: string): string | undefined {
  return COCO_TO_VOC.get(cocoLabel);
}
