import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Observable } from 'rxjs';
import type { Frame } from './frame.js';
import type { CaptureHooks } from './hooks.js';
import { CameraConfigError } from './errors.js';

const IMAGE_EXT = /\.(jpe?g|png|webp)$/i;

export interface FilesOptions {
  /** a directory, a single file, or a glob with * and ? in the file-name part */
  path: string;
  loop: boolean;
  fps: number;
  /** 'pipeline': besides the clock, wait for each frame's `release` before reading the next */
  pace?: 'fps' | 'pipeline';
}

/** The image files a `camera.files.path` names, sorted, so a run is reproducible. */
export function listImageFiles(pattern: string): string[] {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(pattern);
  } catch {
    st = undefined;
  }
  if (st?.isDirectory()) {
    return readdirSync(pattern)
      .filter((f) => IMAGE_EXT.test(f))
      .sort()
      .map((f) => path.join(pattern, f));
  }
  if (st?.isFile()) return [pattern];
  const dir = path.dirname(pattern);
  const base = path.basename(pattern);
  if (!/[*?]/.test(base)) throw new CameraConfigError([`camera.files.path: ${pattern} does not exist`]);
  if (/[*?[]/.test(dir)) throw new CameraConfigError([`camera.files.path: wildcards are only supported in the file name (${pattern})`]);
  const re = new RegExp(
    '^' +
      base
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.') +
      '$',
  );
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new CameraConfigError([`camera.files.path: directory ${dir} does not exist`]);
  }
  return names
    .filter((f) => re.test(f) && IMAGE_EXT.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * Images as a camera: read one file per tick at `fps`, in order, looping if asked. Cold: nothing is
 * read until subscribe. An unreadable file is reported as a corrupt frame and skipped, never fatal.
 * With `pace: 'pipeline'` the next file is read only once the consumer has released the previous frame
 * (backpressure: every frame is processed, at most `fps` per second).
 */
export function filesSource(opts: FilesOptions, hooks: CaptureHooks = {}): Observable<Frame> {
  return new Observable<Frame>((sub) => {
    let files: string[];
    try {
      files = listImageFiles(opts.path);
    } catch (e) {
      sub.error(e);
      return;
    }
    if (!files.length) {
      sub.error(new CameraConfigError([`camera.files.path: no JPEG/PNG images in ${opts.path}`]));
      return;
    }
    hooks.onEvent?.({ type: 'started', detail: `files: ${files.length} images from ${opts.path}` });
    const periodMs = 1000 / opts.fps;
    let index = 0;
    let id = 0;
    let ticks = 0;
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const start = performance.now();
    const tick = async (): Promise<void> => {
      if (closed) return;
      if (index >= files.length) {
        if (!opts.loop) {
          sub.complete();
          return;
        }
        index = 0;
      }
      const file = files[index++]!;
      ticks++;
      try {
        const data = await readFile(file);
        if (closed) return;
        const frame: Frame = {
          kind: 'encoded',
          id: id++,
          capturedAt: Date.now(),
          capturedMono: performance.now(),
          data,
          format: /\.png$/i.test(file) ? 'png' : /\.webp$/i.test(file) ? 'webp' : 'jpeg',
          origin: file,
        };
        // set before next(): the consumer may release (drop) the frame synchronously
        const released = opts.pace === 'pipeline' ? new Promise<void>((r) => (frame.release = r)) : null;
        sub.next(frame);
        if (released) await released;
        if (closed) return;
      } catch (e) {
        hooks.onEvent?.({ type: 'corrupt', reason: `${file}: ${(e as Error).message}` });
      }
      // schedule against the start time so pacing does not drift with read/processing jitter; count
      // ticks, not frames, so a folder of unreadable files is still paced
      const next = start + ticks * periodMs;
      timer = setTimeout(() => void tick(), Math.max(0, next - performance.now()));
    };
    void tick();
    return () => {
      closed = true;
      if (timer) clearTimeout(timer);
    };
  });
}
