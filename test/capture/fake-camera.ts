import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The fake rpicam-vid script in the source tree (the compiled test lives in dist/test/capture). */
export const FAKE_RPICAM_VID = fileURLToPath(new URL('../../../test/fixtures/bin/rpicam-vid', import.meta.url));
export { VTEST_MJPEG as TEST_VIDEO } from '../helpers/paths.js';
import { VTEST_MJPEG as TEST_VIDEO } from '../helpers/paths.js';

export interface FakeCameraOptions {
  /** size the frames are extracted at (the fake re-encodes when asked for another size); default 320×240 */
  width?: number;
  height?: number;
  /** how many frames to extract from the video; default 30 */
  frames?: number;
  video?: string;
  /** names the fake answers to on PATH; default ['rpicam-vid'] (add 'libcamera-vid' for the fallback) */
  binaries?: string[];
  /** extra FAKE_CAM_* variables, e.g. { FAKE_CAM_MODE: 'crash-after:5' } */
  extraEnv?: NodeJS.ProcessEnv;
}

export interface FakeCamera {
  /** temp dir with the fake on it; put first on PATH (env already does) */
  binDir: string;
  /** the JPEG frames the fake streams, in order (frame_0001.jpg …) */
  framesDir: string;
  frameFiles: string[];
  /** process.env + PATH with binDir first + FAKE_CAM_FRAMES (+ extraEnv) */
  env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

/**
 * Prepares a fake Raspberry Pi camera: real JPEG frames cut from a test video with ffmpeg into a temp
 * dir (nothing is committed), and a bin dir where `rpicam-vid` (and optionally `libcamera-vid`) is the
 * fake script. Spawn the source with the returned env.
 */
export async function prepareFakeCamera(opts: FakeCameraOptions = {}): Promise<FakeCamera> {
  const width = opts.width ?? 320;
  const height = opts.height ?? 240;
  const count = opts.frames ?? 30;
  const video = opts.video ?? TEST_VIDEO;
  if (!existsSync(video)) throw new Error(`test video ${video} is missing`);
  const root = await mkdtemp(path.join(tmpdir(), 'edgesight-fakecam-'));
  const framesDir = path.join(root, 'frames');
  const binDir = path.join(root, 'bin');
  await run('mkdir', ['-p', framesDir, binDir]);
  await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-i',
    video,
    '-frames:v',
    String(count),
    '-vf',
    `scale=${width}:${height}`,
    '-q:v',
    '5',
    path.join(framesDir, 'frame_%04d.jpg'),
  ]);
  const frameFiles = (await readdir(framesDir))
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .map((f) => path.join(framesDir, f));
  if (frameFiles.length !== count) throw new Error(`expected ${count} frames from ${video}, ffmpeg wrote ${frameFiles.length}`);
  for (const name of opts.binaries ?? ['rpicam-vid']) await symlink(FAKE_RPICAM_VID, path.join(binDir, name));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ''}`,
    FAKE_CAM_FRAMES: framesDir,
    ...opts.extraEnv,
  };
  return { binDir, framesDir, frameFiles, env, cleanup: () => rm(root, { recursive: true, force: true }) };
}
