import { existsSync } from 'node:fs';
import { defer, map, type Observable } from 'rxjs';
import type { Frame } from './frame.js';
import type { CommonCaptureOptions, FfmpegOptions } from './config.js';
import { CameraConfigError, CameraMissingError } from './errors.js';
import type { CaptureHooks } from './hooks.js';
import type { CaptureRuntime } from './libcamera.js';
import { validateArgs, validateCommon } from './libcamera.js';
import { createFrameParser } from './raw-splitter.js';
import { superviseProcess } from './supervisor.js';

export type FfmpegInputKind = 'device' | 'url' | 'file';

export function ffmpegInputKind(input: string): FfmpegInputKind {
  if (input.startsWith('/dev/')) return 'device';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) return 'url';
  return 'file';
}

/** Options the source sets itself; `args` only adds input options before -i. */
const OWNED = new Set(['-i', '-re', '-stream_loop', '-f', '-y', '-nostdin']);

export function validateFfmpegOptions(opts: FfmpegOptions, common: CommonCaptureOptions): string[] {
  const problems = validateCommon(common);
  if (typeof opts.input !== 'string' || opts.input.trim() === '')
    problems.push('camera.ffmpeg.input is required for source ffmpeg: a /dev/videoN device, an rtsp:// or http:// URL, or a video file');
  if (opts.output !== 'mjpeg' && opts.output !== 'rgb24')
    problems.push(`camera.ffmpeg.output must be mjpeg or rgb24, got ${JSON.stringify(opts.output)}`);
  if (!Number.isInteger(opts.quality) || opts.quality < 2 || opts.quality > 31)
    problems.push(`camera.ffmpeg.quality must be an integer 2..31, got ${JSON.stringify(opts.quality)}`);
  if (typeof opts.binary !== 'string' || opts.binary === '') problems.push('camera.ffmpeg.binary must be a non-empty string');
  problems.push(...validateArgs(opts.args, 'camera.ffmpeg.args', OWNED));
  return problems;
}

/** The ffmpeg argument vector (program name excluded). */
export function buildFfmpegArgs(opts: FfmpegOptions, common: Pick<CommonCaptureOptions, 'width' | 'height' | 'fps'>): string[] {
  const kind = ffmpegInputKind(opts.input);
  const has = (flag: string): boolean => opts.args.includes(flag);
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'warning'];
  if (kind === 'file') {
    if (opts.realtime ?? true) args.push('-re');
    if (opts.loop) args.push('-stream_loop', '-1');
  } else if (opts.realtime) {
    args.push('-re');
  }
  const format = opts.format ?? (kind === 'device' ? 'v4l2' : undefined);
  if (format) args.push('-f', format);
  if (format === 'v4l2') {
    // ask the device for the wanted mode; a webcam that cannot do it makes ffmpeg fail loudly (logged)
    if (!has('-video_size')) args.push('-video_size', `${common.width}x${common.height}`);
    if (!has('-framerate')) args.push('-framerate', String(common.fps));
  }
  if (/^rtsps?:\/\//i.test(opts.input) && !has('-rtsp_transport')) args.push('-rtsp_transport', 'tcp');
  args.push(...opts.args, '-i', opts.input, '-an', '-sn', '-dn');
  const scale = `scale=${common.width}:${common.height}`;
  const fps = `fps=${common.fps}`;
  if (opts.output === 'rgb24') {
    args.push('-vf', `${fps},${scale}`, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1');
  } else {
    // full-range yuvj420p: what the MJPEG encoder expects without -strict tricks
    args.push('-vf', `${fps},${scale},format=yuvj420p`, '-c:v', 'mjpeg', '-q:v', String(opts.quality), '-f', 'mjpeg', 'pipe:1');
  }
  return args;
}

/**
 * Frames from a USB webcam (v4l2), an RTSP/HTTP camera or a video file through ffmpeg, supervised like
 * the libcamera source. A file played without `loop` completes when it ends; everything else restarts.
 */
export function ffmpegSource(
  opts: FfmpegOptions,
  common: CommonCaptureOptions,
  hooks: CaptureHooks = {},
  runtime: CaptureRuntime = {},
): Observable<Frame> {
  return defer(() => {
    const problems = validateFfmpegOptions(opts, common);
    if (problems.length) throw new CameraConfigError(problems);
    const kind = ffmpegInputKind(opts.input);
    const args = buildFfmpegArgs(opts, common);
    const env = runtime.env ?? process.env;
    const { width, height } = common;
    const rgbBytes = width * height * 3;

    const frames = superviseProcess<Buffer>({
      name: 'ffmpeg',
      resolve() {
        if (kind !== 'url' && !existsSync(opts.input)) {
          throw new CameraMissingError(
            kind === 'device' ? `camera device ${opts.input} does not exist (unplugged?)` : `video file ${opts.input} does not exist`,
          );
        }
        return { command: opts.binary, args, env };
      },
      createParser: () => createFrameParser(opts.output === 'rgb24' ? rgbBytes : null, 'ffmpeg', hooks),
      stallTimeoutMs: common.stallTimeoutS * 1000,
      completeOnCleanExit: kind === 'file' && !opts.loop,
      // swscale's warning about MJPEG's full-range pixel formats repeats per thread and means nothing here
      quietPattern: /deprecated pixel format used/,
      missingPattern: /No such file or directory|Cannot open video device|Connection refused|No route to host|Connection timed out/i,
      ...(runtime.backoff ? { backoff: runtime.backoff } : {}),
      ...(runtime.killGraceMs !== undefined ? { killGraceMs: runtime.killGraceMs } : {}),
      ...(runtime.resetAfterMs !== undefined ? { resetAfterMs: runtime.resetAfterMs } : {}),
      ...(runtime.random ? { random: runtime.random } : {}),
      hooks,
    });

    return frames.pipe(
      map((data, id): Frame => {
        const capturedAt = Date.now();
        const capturedMono = performance.now();
        if (opts.output === 'rgb24')
          return { kind: 'raw', id, capturedAt, capturedMono, data, format: 'rgb24', width, height, stride: width * 3, origin: opts.input };
        return { kind: 'encoded', id, capturedAt, capturedMono, data, format: 'jpeg', origin: opts.input };
      }),
    );
  });
}
