import type { ConfigProblem } from './errors.js';
import type { Config } from './types.js';

/** The class names the configured models know; null where a model's labels cannot be had (not checked). */
export interface ModelVocabulary {
  detector: { model: string; labels: readonly string[] } | null;
  /** null also when no segmenter is configured (models.segmenter: null) */
  segmenter: { model: string; labels: readonly string[] } | null;
  /** true when models.segmenter is null: names of segmentation classes then have nothing to refer to */
  noSegmenter?: boolean;
}

/**
 * Every config key that names detector labels or segmentation classes, in one list, so a new label-keyed
 * key is checked by adding one line here. `path` is dotted; `*` matches any map key or list index.
 * `at: 'values'` checks strings (a list of them or one), `at: 'keys'` checks a map's keys.
 */
export interface LabelKey {
  path: string;
  at: 'values' | 'keys';
  vocabulary: 'detector' | 'segmenter';
}

export const LABEL_KEYS: LabelKey[] = [
  { path: 'objects.track', at: 'values', vocabulary: 'detector' },
  { path: 'objects.filters', at: 'keys', vocabulary: 'detector' },
  { path: 'zones.*.labels', at: 'values', vocabulary: 'detector' },
  { path: 'lines.*.labels', at: 'values', vocabulary: 'detector' },
  { path: 'privacy.classes', at: 'values', vocabulary: 'segmenter' },
];

/** Placeholder names in label files (COCO's unused ids): never a valid choice. */
const NOT_A_LABEL = new Set(['n/a', '']);

/**
 * `isSet(path)` says whether the user wrote the value (file or environment): a built-in default that a
 * custom model lacks (the COCO track list with a 3-label model) is not the user's mistake.
 */
export function labelProblems(
  c: Config,
  vocab: ModelVocabulary,
  isSet: (path: string) => boolean = () => true,
  keys: readonly LabelKey[] = LABEL_KEYS,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const key of keys) {
    for (const { path, value } of resolve(c as unknown as Record<string, unknown>, key.path.split('.'), [])) {
      const names: Array<{ path: string; name: string }> = [];
      if (key.at === 'keys') {
        if (value && typeof value === 'object' && !Array.isArray(value))
          for (const k of Object.keys(value)) names.push({ path: `${path}.${k}`, name: k });
      } else if (typeof value === 'string') names.push({ path, name: value });
      else if (Array.isArray(value)) value.forEach((v, i) => typeof v === 'string' && names.push({ path: `${path}.${i}`, name: v }));
      if (!names.length) continue;
      const v = vocab[key.vocabulary];
      if (!v) {
        if (key.vocabulary === 'segmenter' && vocab.noSegmenter) {
          problems.push({ path, message: 'names segmentation classes, but no segmenter is configured (models.segmenter is null)' });
        }
        continue;
      }
      const valid = v.labels.filter((l) => !NOT_A_LABEL.has(l));
      for (const n of names) {
        if (valid.includes(n.name) || !isSet(n.path)) continue;
        const near = closest(n.name, valid);
        const what = key.vocabulary === 'detector' ? 'label of the detector' : 'class of the segmenter';
        problems.push({
          path: n.path,
          message: `'${n.name}' is not a ${what} ${v.model}${near ? `; did you mean '${near}'?` : ''} (valid: ${summarise(valid)})`,
        });
      }
    }
  }
  return problems;
}

/** The values at a dotted path with `*` wildcards, with their concrete paths. */
function resolve(node: unknown, segs: string[], at: string[]): Array<{ path: string; value: unknown }> {
  if (segs.length === 0) return [{ path: at.join('.'), value: node }];
  if (node === null || typeof node !== 'object') return [];
  const [head, ...rest] = segs as [string, ...string[]];
  const entries: Array<[string, unknown]> = Array.isArray(node)
    ? node.map((v, i) => [String(i), v])
    : Object.entries(node as Record<string, unknown>);
  return entries.filter(([k]) => head === '*' || k === head).flatMap(([k, v]) => resolve(v, rest, [...at, k]));
}

/** The nearest name by edit distance (case-insensitive), when it is near enough to be a typo. */
export function closest(name: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  const a = name.toLowerCase();
  for (const c of candidates) {
    const d = c.toLowerCase() === a ? 0 : editDistance(a, c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function summarise(labels: readonly string[]): string {
  const shown = labels.slice(0, 12).join(', ');
  return labels.length > 12 ? `${shown}, … ${labels.length} in all; edgesight models info shows them` : shown;
}
