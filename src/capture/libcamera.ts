import { defer, map, type Observable } from 'rxjs';
import type { Frame } from './frame.js';
import type { CommonCaptureOptions, LibcameraOptions } from './config.js';
import { LIBCAMERA_CODECS } from './config.js';
import { CameraConfigError, CameraMissingError } from './errors.js';
import type { CaptureHooks } from './hooks.js';
import { findOnPath } from './path-lookup.js';
import { createFrameParser, yuv420Layout } from './raw-splitter.js';
import { superviseProcess, type Backoff } from './supervisor.js';

/** Process-level knobs, injectable so tests can put a fake rpicam-vid on PATH without touching process.env. */
export interface CaptureRuntime {
  env?: NodeJS.ProcessEnv;
  findOnPath?: (name: string, envPath?: string) => string | null;
  backoff?: Partial<Backoff>;
  /** a process that delivered frames for this long resets the backoff (default 30 s) */
  resetAfterMs?: number;
  killGraceMs?: number;
  random?: () => number;
}

/** Programs tried in order when `binary` is not set: Bookworm's rpicam-apps, then the older name. */
export const LIBCAMERA_BINARIES = ['rpicam-vid', 'libcamera-vid'] as const;

/** Flags the source itself controls; passing them again through `args` would break the frame stream. */
const OWNED_FLAGS = new Set([
  '-o',
  '--output',
  '--codec',
  '--width',
  '--height',
  '--framerate',
  '-t',
  '--timeout',
  '-n',
  '--nopreview',
  '--segment',
  '--split',
  '--circular',
  '--listen',
  '--inline',
]);

type Flag = { key: keyof LibcameraOptions; flag: string; kind: 'bool' | 'value'; fmt?: (v: never) => string };

/** YAML key → rpicam-vid flag, in the order they are appended. */
const FLAGS: readonly Flag[] = [
  { key: 'camera', flag: '--camera', kind: 'value' },
  { key: 'hflip', flag: '--hflip', kind: 'bool' },
  { key: 'vflip', flag: '--vflip', kind: 'bool' },
  { key: 'rotation', flag: '--rotation', kind: 'value' },
  { key: 'roi', flag: '--roi', kind: 'value', fmt: (r: NonNullable<LibcameraOptions['roi']>) => `${r.x},${r.y},${r.w},${r.h}` },
  { key: 'shutter', flag: '--shutter', kind: 'value' },
  { key: 'gain', flag: '--gain', kind: 'value' },
  { key: 'ev', flag: '--ev', kind: 'value' },
  { key: 'awb', flag: '--awb', kind: 'value' },
  { key: 'awbgains', flag: '--awbgains', kind: 'value', fmt: (g: [number, number]) => `${g[0]},${g[1]}` },
  { key: 'metering', flag: '--metering', kind: 'value' },
  { key: 'exposure', flag: '--exposure', kind: 'value' },
  { key: 'denoise', flag: '--denoise', kind: 'value' },
  { key: 'sharpness', flag: '--sharpness', kind: 'value' },
  { key: 'contrast', flag: '--contrast', kind: 'value' },
  { key: 'brightness', flag: '--brightness', kind: 'value' },
  { key: 'saturation', flag: '--saturation', kind: 'value' },
  { key: 'tuning_file', flag: '--tuning-file', kind: 'value' },
  { key: 'quality', flag: '--quality', kind: 'value' },
];

/** Problems with the options, each naming the key; empty when valid. */
export function validateLibcameraOptions(opts: LibcameraOptions, common: CommonCaptureOptions): string[] {
  const problems = validateCommon(common);
  if (!LIBCAMERA_CODECS.includes(opts.codec))
    problems.push(`camera.libcamera.codec must be one of ${LIBCAMERA_CODECS.join(', ')}, got ${JSON.stringify(opts.codec)}`);
  if (opts.codec === 'yuv420' && (common.width % 2 !== 0 || common.height % 2 !== 0)) {
    problems.push(`camera.width and camera.height must be even for codec yuv420, got ${common.width}x${common.height}`);
  }
  if (opts.rotation !== 0 && opts.rotation !== 180) problems.push(`camera.libcamera.rotation must be 0 or 180, got ${JSON.stringify(opts.rotation)}`);
  if (opts.binary !== undefined && (typeof opts.binary !== 'string' || opts.binary === ''))
    problems.push('camera.libcamera.binary must be a non-empty string');
  problems.push(...validateArgs(opts.args, 'camera.libcamera.args', OWNED_FLAGS));
  return problems;
}

export function validateCommon(common: CommonCaptureOptions): string[] {
  const problems: string[] = [];
  for (const k of ['width', 'height'] as const) {
    if (!Number.isInteger(common[k]) || common[k] <= 0) problems.push(`camera.${k} must be a positive integer, got ${JSON.stringify(common[k])}`);
  }
  if (typeof common.fps !== 'number' || !(common.fps > 0) || !Number.isFinite(common.fps))
    problems.push(`camera.fps must be a positive number, got ${JSON.stringify(common.fps)}`);
  if (typeof common.stallTimeoutS !== 'number' || !(common.stallTimeoutS >= 0))
    problems.push(`camera.stall_timeout_s must be >= 0 (0 disables), got ${JSON.stringify(common.stallTimeoutS)}`);
  return problems;
}

export function validateArgs(args: unknown, where: string, owned: ReadonlySet<string>): string[] {
  if (!Array.isArray(args)) return [`${where} must be an array of strings`];
  const problems: string[] = [];
  args.forEach((a, i) => {
    if (typeof a !== 'string') problems.push(`${where}[${i}] must be a string, got ${JSON.stringify(a)}`);
    else if (owned.has(a.split('=')[0]!)) problems.push(`${where}[${i}]: ${a} is set by edgesight itself and cannot be overridden`);
  });
  return problems;
}

/** The rpicam-vid argument vector (the program name excluded). */
export function buildLibcameraArgs(opts: LibcameraOptions, common: Pick<CommonCaptureOptions, 'width' | 'height' | 'fps'>): string[] {
  const args = [
    '-t',
    '0',
    '-n',
    '--codec',
    opts.codec,
    '--width',
    String(common.width),
    '--height',
    String(common.height),
    '--framerate',
    String(common.fps),
    '--flush',
  ];
  for (const f of FLAGS) {
    const v = opts[f.key];
    if (v === undefined || v === null) continue;
    if (f.kind === 'bool') {
      if (v === true) args.push(f.flag);
      continue;
    }
    if (f.key === 'rotation' && v === 0) continue;
    args.push(f.flag, f.fmt ? f.fmt(v as never) : String(v));
  }
  args.push(...opts.args, '-o', '-');
  return args;
}

/**
 * Frames from a Raspberry Pi camera through rpicam-vid (or libcamera-vid), supervised: restarts with
 * backoff on exit/crash/stall, reports a missing camera and keeps retrying. mjpeg → EncodedFrame;
 * yuv420 → RawFrame with stride = width padded to 64 (see yuv420Layout). Frame ids count from 0 per
 * subscription and keep increasing across restarts.
 */
export function libcameraSource(
  opts: LibcameraOptions,
  common: CommonCaptureOptions,
  hooks: CaptureHooks = {},
  runtime: CaptureRuntime = {},
): Observable<Frame> {
  return defer(() => {
    const problems = validateLibcameraOptions(opts, common);
    if (problems.length) throw new CameraConfigError(problems);
    const env = runtime.env ?? process.env;
    const lookup = runtime.findOnPath ?? findOnPath;
    const args = buildLibcameraArgs(opts, common);
    const { width, height } = common;
    const yuv = opts.codec === 'yuv420' ? yuv420Layout(width, height) : undefined;
    let origin = 'libcamera';

    const frames = superviseProcess<Buffer>({
      name: 'libcamera',
      resolve() {
        let command: string | null = opts.binary ?? null;
        if (!command) {
          for (const b of LIBCAMERA_BINARIES) {
            command = lookup(b, env.PATH);
            if (command) break;
          }
        }
        if (!command)
          throw new CameraMissingError(`neither ${LIBCAMERA_BINARIES.join(' nor ')} is on PATH (install rpicam-apps, or set camera.source)`);
        origin = command.split('/').pop() ?? command;
        return { command, args, env };
      },
      createParser: () => createFrameParser(yuv ? yuv.frameBytes : null, 'libcamera', hooks),
      stallTimeoutMs: common.stallTimeoutS * 1000,
      missingPattern: /no cameras available|failed to acquire camera/i,
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
        if (yuv) return { kind: 'raw', id, capturedAt, capturedMono, data, format: 'yuv420', width, height, stride: yuv.stride, origin };
        return { kind: 'encoded', id, capturedAt, capturedMono, data, format: 'jpeg', origin };
      }),
    );
  });
}
