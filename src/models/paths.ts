import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** models.cache_dir, else systemd's $CACHE_DIRECTORY, else $XDG_CACHE_HOME/edgesight, else ~/.cache/edgesight. */
export function resolveCacheDir(configured: string | null, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd()): string {
  if (configured) return path.resolve(baseDir, configured);
  if (env.CACHE_DIRECTORY) return path.resolve(env.CACHE_DIRECTORY.split(':')[0]!);
  if (env.XDG_CACHE_HOME) return path.join(env.XDG_CACHE_HOME, 'edgesight');
  return path.join(os.homedir(), '.cache', 'edgesight');
}

/** The package root (where models/, config/ and systemd/ ship), found from this compiled file. */
export function packageRoot(): string {
  // dist/src/models/paths.js → ../../..
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

export function repoModelsDir(): string {
  return path.join(packageRoot(), 'models');
}
