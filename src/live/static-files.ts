import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';

export interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

/**
 * The page's files, by URL path. A fixed list read into memory at start: a request path is only ever a
 * key into this map, never joined onto a directory, so there is nothing to traverse and nothing to list.
 * uPlot is served from its npm package's dist files as published (no bundler, no copy in the repo).
 */
const PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};
const VENDOR_FILES: Record<string, { file: string; type: string }> = {
  '/vendor/uPlot.iife.min.js': { file: 'uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  '/vendor/uPlot.min.css': { file: 'uPlot.min.css', type: 'text/css; charset=utf-8' },
};

/** src/live/static, found from this module whether it runs from src/ or from dist/src/. */
export function staticDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const dir of [path.join(here, 'static'), path.resolve(here, '..', '..', '..', 'src', 'live', 'static')]) {
    if (existsSync(path.join(dir, 'index.html'))) return dir;
  }
  throw new Error(`live view: cannot find its page files (src/live/static/index.html) from ${here}`);
}

function uplotDist(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
}

export function loadStaticFiles(): Map<string, StaticFile> {
  const out = new Map<string, StaticFile>();
  const add = (url: string, file: string, type: string): void => {
    const body = readFileSync(file);
    out.set(url, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  };
  const dir = staticDir();
  for (const [url, f] of Object.entries(PAGE_FILES)) add(url, path.join(dir, f.file), f.type);
  const vendor = uplotDist();
  for (const [url, f] of Object.entries(VENDOR_FILES)) add(url, path.join(vendor, f.file), f.type);
  return out;
}
