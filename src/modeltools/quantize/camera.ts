import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { firstValueFrom, take, timeout, toArray } from 'rxjs';
import type { Frame } from '../../capture/frame.js';
import { createFrameSource } from '../../capture/source.js';

/**
 * N frames from the configured camera, written as files into `dir` so they pass the same decode and
 * preprocessing path as every other calibration image.
 */
export async function grabCameraFrames(
  camera: Parameters<typeof createFrameSource>[0],
  n: number,
  dir: string,
  timeoutMs = 120_000,
): Promise<string[]> {
  let frames: Frame[];
  try {
    frames = await firstValueFrom(createFrameSource(camera).pipe(take(n), toArray(), timeout(timeoutMs)));
  } catch (e) {
    throw new Error(`calibration: could not take ${n} frames from camera '${camera.name}' (${(e as Error).message})`);
  }
  if (frames.length < n) throw new Error(`calibration: camera '${camera.name}' gave ${frames.length} of ${n} frames before it ended`);
  const files: string[] = [];
  for (const f of frames) {
    if (f.kind !== 'encoded')
      throw new Error(
        `camera frame ${f.id} is raw ${f.format}; calibration from raw camera frames is not supported yet (use an MJPEG/JPEG source or models.calibration)`,
      );
    const file = path.join(dir, `camera_${String(f.id).padStart(5, '0')}.${f.format === 'png' ? 'png' : 'jpg'}`);
    await writeFile(file, f.data);
    files.push(file);
  }
  return files;
}
