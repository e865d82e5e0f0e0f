#!/usr/bin/env node
// `npm start` runs the built daemon; this rebuilds first only when a build input changed since the last
// successful `npm run build` (which ends with `--stamp`). A full build takes ~30–60 s; the check, a few ms.
//
//   node scripts/build-if-stale.mjs           rebuild (npm run build) when stale, else say nothing
//   node scripts/build-if-stale.mjs --stamp   record a finished build (the last step of `npm run build`)
//   node scripts/build-if-stale.mjs --check   exit 1 when stale, 0 when fresh (tests, scripts)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STAMP = join(root, 'dist', '.build-stamp');
// what `npm run build` reads: TypeScript sources, the addon's sources, the compiler settings
const INPUTS = ['src', 'test', 'tsconfig.json', 'package.json'];

/** The newest input, or null when there is none. */
function newest() {
  let best = null;
  const visit = (p) => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const e of readdirSync(p)) if (e !== 'node_modules' && e !== 'fixtures') visit(join(p, e));
    } else if (!best || st.mtimeMs > best.mtimeMs) best = { path: p, mtimeMs: st.mtimeMs };
  };
  for (const i of INPUTS) visit(join(root, i));
  return best;
}

/** Why a build is needed, or null when dist/ is up to date. */
function staleness() {
  if (!existsSync(STAMP) || !existsSync(join(root, 'dist', 'src', 'cli', 'main.js'))) return 'no finished build in dist/';
  const stampMs = statSync(STAMP).mtimeMs;
  const n = newest();
  if (n && n.mtimeMs > stampMs) return `${n.path.slice(root.length + 1)} changed since the last build`;
  return null;
}

const arg = process.argv[2];
if (arg === '--stamp') {
  mkdirSync(dirname(STAMP), { recursive: true });
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
} else if (arg === '--check') {
  const why = staleness();
  if (why) console.error(`stale: ${why}`);
  process.exit(why ? 1 : 0);
} else if (arg === undefined) {
  const why = staleness();
  if (why) {
    console.error(`edgesight: building (${why}) …`);
    const t0 = Date.now();
    const r = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`edgesight: the build failed (exit ${r.status ?? r.signal}); fix the errors above, then npm start again`);
      process.exit(r.status || 1);
    }
    console.error(`edgesight: built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
} else {
  console.error(`unknown argument ${arg} (usage: build-if-stale.mjs [--stamp | --check])`);
  process.exit(64);
}
