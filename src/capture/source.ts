import { Observable, type Subscription } from 'rxjs';
import type { Frame } from './frame.js';
import type { CameraConfig, CommonCaptureOptions } from './config.js';
import { CameraConfigError } from './errors.js';
import { ffmpegSource, validateFfmpegOptions } from './ffmpeg.js';
import { filesSource } from './files.js';
import type { CaptureHooks } from './hooks.js';
import { LIBCAMERA_BINARIES, libcameraSource, validateLibcameraOptions, type CaptureRuntime } from './libcamera.js';
import { findOnPath, listVideoDevices } from './path-lookup.js';
import { backoffDelay, DEFAULT_BACKOFF } from './supervisor.js';

export { CameraConfigError, CameraMissingError } from './errors.js';
export type { CaptureHooks } from './hooks.js';
export type { CaptureRuntime } from './libcamera.js';
export { waitForCameraChildren, liveCameraChildPids } from './child.js';

export interface SourceRuntime extends CaptureRuntime {
  /** /dev/video* capture devices in preference order (default: listVideoDevices()) */
  listVideoDevices?: () => string[];
}

export type DetectedCamera = { kind: 'libcamera'; binary: string } | { kind: 'ffmpeg'; device: string };

export const NO_CAMERA_MESSAGE =
  `camera.source is auto but no camera was found: neither ${LIBCAMERA_BINARIES.join(' nor ')} is on PATH ` +
  'and there is no usable /dev/video* device (plug in a camera, install rpicam-apps, or set camera.source explicitly)';

/** What `auto` picks right now: libcamera if rpicam-vid/libcamera-vid is on PATH, else the first
 *  /dev/video* device through ffmpeg, else null (never the demo photos). */
export function detectCamera(runtime: SourceRuntime = {}): DetectedCamera | null {
  const env = runtime.env ?? process.env;
  const lookup = runtime.findOnPath ?? findOnPath;
  for (const b of LIBCAMERA_BINARIES) {
    const binary = lookup(b, env.PATH);
    if (binary) return { kind: 'libcamera', binary };
  }
  const device = (runtime.listVideoDevices ?? listVideoDevices)()[0];
  return device ? { kind: 'ffmpeg', device } : null;
}

const common = (c: CameraConfig): CommonCaptureOptions => ({ width: c.width, height: c.height, fps: c.fps, stallTimeoutS: c.stall_timeout_s });

/** Every problem with the camera section for the chosen source (empty when valid). */
export function validateCameraConfig(c: CameraConfig): string[] {
  switch (c.source) {
    case 'libcamera':
      return validateLibcameraOptions(c.libcamera, common(c));
    case 'ffmpeg':
      return validateFfmpegOptions(c.ffmpeg, common(c));
    case 'files':
      return c.files.path ? [] : ['camera.files.path is required for source files: a directory or glob of JPEG/PNG images'];
    case 'auto': {
      const problems = validateLibcameraOptions(c.libcamera, common(c));
      // the device is detected, so only the other ffmpeg options must be valid
      const ff = validateFfmpegOptions({ ...c.ffmpeg, input: '/dev/video0' }, common(c)).filter((p) => !problems.includes(p));
      return [...problems, ...ff];
    }
    default:
      return [`camera.source must be one of libcamera, ffmpeg, files, auto; got ${JSON.stringify((c as { source: unknown }).source)}`];
  }
}

/**
 * The frame source for the `camera:` section. Throws CameraConfigError at once for invalid options;
 * after that the Observable keeps retrying through missing cameras, crashes and stalls (reported via
 * hooks.onEvent) and never errors for them. Cold: the camera process starts on subscribe and is killed on
 * unsubscribe (await waitForCameraChildren() on shutdown to be sure it is gone).
 */
export function createFrameSource(camera: CameraConfig, hooks: CaptureHooks = {}, runtime: SourceRuntime = {}): Observable<Frame> {
  const problems = validateCameraConfig(camera);
  if (problems.length) throw new CameraConfigError(problems);
  switch (camera.source) {
    case 'libcamera':
      return libcameraSource(camera.libcamera, common(camera), hooks, runtime);
    case 'ffmpeg':
      return ffmpegSource(camera.ffmpeg, common(camera), hooks, runtime);
    case 'files':
      return filesSource({ path: camera.files.path!, loop: camera.files.loop, fps: camera.fps, pace: camera.files.pace ?? 'fps' }, hooks);
    case 'auto':
      return autoSource(camera, hooks, runtime);
  }
}

/** Detection runs on subscribe and is retried with backoff until a camera appears (daemon stays up, degraded). */
function autoSource(camera: CameraConfig, hooks: CaptureHooks, runtime: SourceRuntime): Observable<Frame> {
  return new Observable<Frame>((subscriber) => {
    let stopped = false;
    let attempt = 0;
    let timer: NodeJS.Timeout | undefined;
    let inner: Subscription | undefined;
    const backoff = { ...DEFAULT_BACKOFF, ...runtime.backoff };

    const tryStart = (): void => {
      timer = undefined;
      if (stopped) return;
      const found = detectCamera(runtime);
      if (!found) {
        attempt++;
        const delayMs = backoffDelay(attempt, backoff, runtime.random);
        hooks.onEvent?.({ type: 'missing', detail: NO_CAMERA_MESSAGE });
        hooks.onEvent?.({ type: 'restart', reason: 'no camera found', attempt, delayMs });
        hooks.log?.error({ source: 'auto', attempt, delayMs }, NO_CAMERA_MESSAGE);
        timer = setTimeout(tryStart, delayMs);
        return;
      }
      hooks.log?.info({ source: 'auto', found }, `camera.source auto chose ${found.kind === 'libcamera' ? found.binary : `ffmpeg ${found.device}`}`);
      const source =
        found.kind === 'libcamera'
          ? libcameraSource({ ...camera.libcamera, binary: camera.libcamera.binary ?? found.binary }, common(camera), hooks, runtime)
          : ffmpegSource({ ...camera.ffmpeg, input: found.device }, common(camera), hooks, runtime);
      inner = source.subscribe(subscriber);
    };

    tryStart();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      inner?.unsubscribe();
    };
  });
}
