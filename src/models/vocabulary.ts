import { readFileSync } from 'node:fs';
import type { Config } from '../config/types.js';
import type { ModelVocabulary } from '../config/label-checks.js';
import { catalogEntry, loadCatalogLabels } from './catalog.js';
import { resolveCacheDir } from './paths.js';
import { isManifestPath, manifestPathFor } from './store.js';

/**
 * The label lists of the configured detector and segmenter, for the config's label checks: from the
 * model's manifest when it is there (a manifest path, or the prepared model in the cache), else from the
 * catalog's labels file. Null for a model whose labels cannot be read here (its load reports that).
 */
export function configuredVocabulary(config: Config, dir: string, env: NodeJS.ProcessEnv = process.env): ModelVocabulary {
  const m = config.models;
  const cacheDir = resolveCacheDir(m.cache_dir, env, dir);
  const one = (ref: string | null): { model: string; labels: string[] } | null => {
    if (!ref) return null;
    let found = manifestLabels(manifestPathFor(ref, m.precision, cacheDir, dir));
    if (!found && !isManifestPath(ref)) {
      const entry = catalogEntry(ref);
      try {
        if (entry) found = { labels: loadCatalogLabels(entry), background: entry.detection?.background_class ?? null };
      } catch {
        found = null;
      }
    }
    if (!found) return null;
    // a detector's background class is its "nothing here", never a label to track
    return { model: `'${ref}'`, labels: found.labels.filter((_, i) => i !== found!.background) };
  };
  return { detector: one(m.detector), segmenter: one(m.segmenter), noSegmenter: m.segmenter === null };
}

function manifestLabels(file: string): { labels: string[]; background: number | null } | null {
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as { labels?: unknown; detection?: { background_class?: unknown } };
    if (!Array.isArray(j.labels) || !j.labels.every((l) => typeof l === 'string')) return null;
    const bg = j.detection?.background_class;
    return { labels: j.labels as string[], background: typeof bg === 'number' ? bg : null };
  } catch {
    return null;
  }
}
