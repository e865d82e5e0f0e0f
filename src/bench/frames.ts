import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { packageRoot } from '../models/paths.js';

const IMAGE = /\.(jpe?g|png|webp)$/i;

/** The photos shipped with the package (config/demo-photos): the default, so `npm run bench` needs nothing else. */
export function defaultPhotosDir(): string {
  return path.join(packageRoot(), 'config', 'demo-photos');
}

export interface BenchFrames {
  /** temp folder holding frame_NNN.jpg, the files source reads it */
  dir: string;
  files: string[];
  width: number;
  height: number;
  /** the photos they were made from */
  sources: string[];
  meanBytes: number;
  cleanup(): Promise<void>;
}

/**
 * Real JPEG frames at the camera size: every photo in `photosDir` resized (stretched, as a camera
 * sensor mode would crop/scale) to width×height and re-encoded at quality 85, like an MJPEG camera.
 */
export async function prepareBenchFrames(photosDir: string, width: number, height: number): Promise<BenchFrames> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16 || width > 4096 || height > 4096) {
    throw new RangeError(`frame size must be integers 16–4096, got ${width}×${height}`);
  }
  let names: string[];
  try {
    names = (await readdir(photosDir)).filter((f) => IMAGE.test(f)).sort();
  } catch (e) {
    throw new Error(`--frames-dir ${photosDir} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  if (!names.length) throw new Error(`--frames-dir ${photosDir} holds no JPEG/PNG/WebP photos`);
  const dir = await mkdtemp(path.join(tmpdir(), 'edgesight-bench-frames-'));
  const files: string[] = [];
  let bytes = 0;
  try {
    for (const [i, name] of names.entries()) {
      const src = path.join(photosDir, name);
      let jpeg: Buffer;
      try {
        jpeg = await sharp(src).removeAlpha().resize(width, height, { fit: 'fill' }).jpeg({ quality: 85 }).toBuffer();
      } catch (e) {
        throw new Error(`${src}: not a readable image (${(e as Error).message})`);
      }
      const file = path.join(dir, `frame_${String(i).padStart(3, '0')}.jpg`);
      await writeFile(file, jpeg);
      files.push(file);
      bytes += jpeg.length;
    }
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    dir,
    files,
    width,
    height,
    sources: names.map((n) => path.join(photosDir, n)),
    meanBytes: Math.round(bytes / files.length),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
