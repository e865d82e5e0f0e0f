import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../models/paths.js';

/** The systemd unit the package ships; its memory settings are the ones a deployed daemon runs with. */
export const UNIT_FILE = path.join('systemd', 'edgesight.service');

/** Environment variables of the unit that shape the daemon's memory: V8 flags and glibc malloc tunables. */
const MEMORY_KEY = /^(NODE_OPTIONS|MALLOC_[A-Z_]+)$/;

/**
 * The `Environment=` assignments of a unit file that set memory (NODE_OPTIONS, MALLOC_*), in order. Reads
 * the unit itself rather than a copy, so a measurement follows the unit when it changes. systemd's
 * syntax: one or more space-separated `KEY=VALUE` words per line, each optionally double-quoted.
 */
export function unitMemoryEnv(unitText: string, source = UNIT_FILE): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of unitText.split('\n')) {
    const m = /^\s*Environment\s*=\s*(.*)$/.exec(raw);
    if (!m) continue;
    for (const word of m[1]!.match(/"[^"]*"|\S+/g) ?? []) {
      const w = word.startsWith('"') ? word.slice(1, -1) : word;
      const eq = w.indexOf('=');
      if (eq <= 0) continue;
      const key = w.slice(0, eq);
      if (MEMORY_KEY.test(key)) env[key] = w.slice(eq + 1);
    }
  }
  if (!Object.keys(env).length) throw new Error(`${source} sets no memory environment (Environment=NODE_OPTIONS=… or MALLOC_*=…)`);
  return env;
}

/** The package unit's memory settings applied to `base`: NODE_OPTIONS appended to any already there. */
export function withUnitMemory(
  base: NodeJS.ProcessEnv,
  unitPath = path.join(packageRoot(), UNIT_FILE),
): { env: NodeJS.ProcessEnv; applied: Record<string, string> } {
  const applied = unitMemoryEnv(readFileSync(unitPath, 'utf8'), unitPath);
  const env = { ...base, ...applied };
  if (applied.NODE_OPTIONS && base.NODE_OPTIONS) env.NODE_OPTIONS = `${base.NODE_OPTIONS} ${applied.NODE_OPTIONS}`;
  return { env, applied };
}
