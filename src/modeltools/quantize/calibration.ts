import { execFile } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Frame } from '../../capture/frame.js';
import { toModelInput } from '../../preprocess/preprocess.js';
import type { InputSpec } from '../../models/manifest.js';

const IMAGE_EXT = /\.(jpe?g|png)$/i;
const run = promisify(execFile);

/** Image files named by directories, globs (`*`, `?` in the last path part) or files, sorted and de-duplicated. */
export async function listCalibrationImages(specs: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const spec of specs) {
    const abs = path.resolve(spec);
    let found: string[];
    if (/[*?]/.test(path.basename(abs))) {
      const dir = path.dirname(abs);
      const re = fileGlob(path.basename(abs));
      found = (await safeReaddir(dir, spec)).filter((f) => re.test(f) && IMAGE_EXT.test(f)).map((f) => path.join(dir, f));
    } else {
      const st = await stat(abs).catch(() => null);
      if (!st) throw new Error(`calibration source ${spec} does not exist`);
      found = st.isDirectory() ? (await safeReaddir(abs, spec)).filter((f) => IMAGE_EXT.test(f)).map((f) => path.join(abs, f)) : [abs];
    }
    if (found.length === 0) throw new Error(`calibration source ${spec} holds no JPEG/PNG images`);
    out.push(...found.sort());
  }
  return [...new Set(out)];
}

function fileGlob(pattern: string): RegExp {
  const body = [...pattern].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}

async function safeReaddir(dir: string, spec: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    throw new Error(`calibration source ${spec}: cannot list ${dir} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}

/** Every `step`-th frame of a video as JPEG files in `outDir` (at most `max`), via ffmpeg. */
export async function extractVideoFrames(video: string, outDir: string, opts: { step: number; max: number; prefix?: string }): Promise<string[]> {
  const prefix = opts.prefix ?? path.basename(video).replace(/\W+/g, '_');
  try {
    await run('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-nostdin',
      '-i',
      video,
      '-vf',
      `select=not(mod(n\\,${opts.step}))`,
      '-vsync',
      'vfr',
      '-frames:v',
      String(opts.max),
      '-q:v',
      '3',
      path.join(outDir, `${prefix}_%04d.jpg`),
    ]);
  } catch (e) {
    throw new Error(`ffmpeg could not extract frames from ${video}: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`);
  }
  const files = (await readdir(outDir)).filter((f) => f.startsWith(`${prefix}_`) && f.endsWith('.jpg')).sort();
  if (files.length === 0) throw new Error(`ffmpeg produced no frames from ${video}`);
  return files.map((f) => path.join(outDir, f));
}

/** Preprocessed model inputs, exactly as the pipeline makes them at run time (decode, stretch, normalise). */
export async function* calibrationInputs(files: string[], spec: InputSpec, width: number, height: number): AsyncGenerator<Float32Array> {
  let id = 0;
  for (const file of files) {
    const frame: Frame = {
      kind: 'encoded',
      id: id++,
      capturedAt: Date.now(),
      capturedMono: performance.now(),
      data: await readFile(file),
      format: path.extname(file).slice(1),
      origin: file,
    };
    yield (await toModelInput(frame, spec, width, height)).data;
  }
}

/** Frames (e.g. from a camera) → model inputs. */
export async function* framesToInputs(
  frames: AsyncIterable<Frame> | Iterable<Frame>,
  spec: InputSpec,
  width: number,
  height: number,
): AsyncGenerator<Float32Array> {
  for await (const f of frames) yield (await toModelInput(f, spec, width, height)).data;
}
