import path from 'node:path';
import type { LoadedConfig } from '../config/types.js';
import { mirrorsFromEnv } from '../models/fetch.js';
import { resolveCacheDir } from '../models/paths.js';
import { createProgress, type ProgressSink } from '../models/progress.js';
import type { PrepareContext } from '../models/store.js';
import { tfliteConverter } from '../modeltools/runtime-entry.js';
import { loadConfigOrExit } from './common.js';

export { COMMON_OPTIONS } from './commands.js';

export interface CommonValues {
  config?: string;
  cache?: string;
  from?: string[];
  offline?: boolean;
}

export function say(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

/**
 * Cache dir: --cache, else the config's models.cache_dir (and its systemd/XDG defaults). Mirrors: --from
 * first, then EDGESIGHT_MODELS_MIRROR, then models.mirror. A download shows a bar on a TTY.
 */
export function modelsContext(values: CommonValues, env: NodeJS.ProcessEnv = process.env): { lc: LoadedConfig; ctx: PrepareContext } {
  const lc = loadConfigOrExit(values.config);
  const cfg = lc.config.models;
  const cacheDir = values.cache ? path.resolve(values.cache) : resolveCacheDir(cfg.cache_dir, env, lc.dir);
  let sink: ProgressSink | undefined;
  const ctx: PrepareContext = {
    converter: tfliteConverter,
    cacheDir,
    mirrors: [...(values.from ?? []).map((d) => path.resolve(d)), ...mirrorsFromEnv(env), ...cfg.mirror.map((m) => path.resolve(lc.dir, m))],
    allowNetwork: !values.offline && env.EDGESIGHT_OFFLINE !== '1',
    log: (msg, extra) =>
      say(extra?.url ? `${msg} from ${String(extra.url)}${extra.resume_from ? ` (resuming at byte ${String(extra.resume_from)})` : ''}` : msg),
    progress: (done, total) => {
      sink ??= createProgress('download', process.stderr, say);
      sink.update(done, total);
    },
    progressEnd: () => {
      sink?.finish();
      sink = undefined;
    },
  };
  return { lc, ctx };
}

export function short(sha: string): string {
  return sha.slice(0, 12);
}

export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
