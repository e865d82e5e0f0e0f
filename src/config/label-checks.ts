import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigProblem } from './errors.js';
import type { Config } from './types.js';
import { catalogEntry, loadCatalogLabels } from '../models/catalog.js';
import { cocoLabelOf } from '../postprocess/voc-coco.js';

/** Labels of the configured models: null when they cannot be known before the model is loaded. */
export interface ModelLabels {
  detector: readonly string[] | null;
  /** null also when there is no segmenter */
  segmenter: readonly string[] | null;
}

/**
 * Label-keyed settings of zones, lines and privacy checked against the models' label lists: a typo would
 * otherwise never match and the zone would silently stay empty. One function so it can join a shared
 * list of label checks.
 */
export function placeLabelProblems(c: Config, labels: ModelLabels): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const det = labels.detector ? new Set(labels.detector.filter((l) => l !== 'n/a' && l !== 'background')) : null;
  const tracked = new Set(c.objects.track);
  const checkLabel = (key: string, label: string): void => {
    if (det && !det.has(label)) problems.push({ path: key, message: `unknown detector label ${JSON.stringify(label)}${suggest(label, [...det])}` });
    else if (!tracked.has(label)) problems.push({ path: key, message: `label ${JSON.stringify(label)} is not in objects.track, so it is never tracked` });
  };
  for (const [name, z] of Object.entries(c.zones)) z.labels.forEach((l, i) => checkLabel(`zones.${name}.labels.${i}`, l));
  for (const [name, l] of Object.entries(c.lines)) l.labels.forEach((x, i) => checkLabel(`lines.${name}.labels.${i}`, x));

  const seg = labels.segmenter ? labels.segmenter.filter((l) => l !== 'background') : null;
  c.privacy.classes.forEach((cls, i) => {
    const key = `privacy.classes.${i}`;
    if (seg && !seg.includes(cls)) {
      problems.push({ path: key, message: `unknown segmenter class ${JSON.stringify(cls)}${suggest(cls, seg)}` });
      return;
    }
    // without a fresh mask the tracked boxes of the matching detector label obscure the class
    const label = cocoLabelOf(cls);
    if (label === undefined) problems.push({ path: key, message: `class ${JSON.stringify(cls)} has no detector label to fall back on when no fresh mask is available` });
    else if (!tracked.has(label)) problems.push({ path: key, message: `class ${JSON.stringify(cls)} falls back on the boxes of detector label ${JSON.stringify(label)}, which must be in objects.track` });
  });
  return problems;
}

/** The label lists of catalogued models and of manifest files (relative to the config's folder). */
export function configuredModelLabels(c: Config, dir: string): ModelLabels {
  return { detector: labelsOf(c.models.detector, dir), segmenter: c.models.segmenter === null ? null : labelsOf(c.models.segmenter, dir) };
}

function labelsOf(ref: string, dir: string): string[] | null {
  const entry = catalogEntry(ref);
  if (entry) return loadCatalogLabels(entry);
  if (!ref.endsWith('.json')) return null; // an unknown name: the model loader reports it
  try {
    const m = JSON.parse(readFileSync(path.resolve(dir, ref), 'utf8')) as { labels?: unknown };
    return Array.isArray(m.labels) && m.labels.every((l) => typeof l === 'string') ? (m.labels as string[]) : null;
  } catch {
    return null; // unreadable manifest: the model loader names the problem
  }
}

function suggest(word: string, options: readonly string[]): string {
  let best = '';
  let bestD = Infinity;
  for (const o of options) {
    const d = editDistance(word.toLowerCase(), o.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = o;
    }
  }
  return bestD <= Math.max(2, word.length / 3) ? ` (did you mean ${JSON.stringify(best)}?)` : '';
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}
