import type { LibCamera } from 'node-libcamera/dist/LibCamera.js';

/**
 * The `camera:` section as the config loader produces it (snake_case keys, defaults applied), and the
 * JSON-Schema fragments for the source-specific parts. The rpicam-vid option names and value types come
 * from node-libcamera's option types, so the YAML surface matches the documented flags; only the spawning
 * is ours (node-libcamera's runtime runs commands through a shell and buffers their output).
 */

type Vid = LibCamera.VideoOptionsObject;

export const LIBCAMERA_CODECS = ['mjpeg', 'yuv420'] as const satisfies readonly Vid['codec'][];
export const DENOISE_MODES = ['auto', 'off', 'cdn_off', 'cdn_fast', 'cdn_hq'] as const satisfies readonly Vid['denoise'][];
export const METERING_MODES = ['centre', 'spot', 'average', 'custom'] as const satisfies readonly Vid['metering'][];
export const EXPOSURE_MODES = ['normal', 'sport'] as const satisfies readonly Vid['exposure'][];
export const ROTATIONS = [0, 180] as const satisfies readonly Vid['rotation'][];
/** node-libcamera types `awb` as a free string; these are the modes the rpicam-apps document */
export const AWB_MODES = [
  'auto',
  'incandescent',
  'tungsten',
  'fluorescent',
  'indoor',
  'daylight',
  'cloudy',
  'custom',
] as const satisfies readonly Vid['awb'][];

// Fail the build if node-libcamera grows a value our enums do not list.
type Covers<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : false;
const _enumsCoverNodeLibcamera: [
  Covers<Vid['denoise'], (typeof DENOISE_MODES)[number]>,
  Covers<Vid['metering'], (typeof METERING_MODES)[number]>,
  Covers<Vid['exposure'], (typeof EXPOSURE_MODES)[number]>,
  Covers<Vid['rotation'], (typeof ROTATIONS)[number]>,
] = [true, true, true, true];
void _enumsCoverNodeLibcamera;

/** `camera.libcamera` — rpicam-vid options (YAML keys are the flag names with `-` → `_`). */
export interface LibcameraOptions {
  /** program to run; default: rpicam-vid, else libcamera-vid, whichever is on PATH */
  binary?: string;
  /** mjpeg: JPEG frames (hardware encoder on Pi 4); yuv420: raw frames, no JPEG decode downstream */
  codec: (typeof LIBCAMERA_CODECS)[number];
  /** camera index (`--camera`), for boards with two cameras */
  camera?: number;
  hflip: Vid['hflip'];
  vflip: Vid['vflip'];
  rotation: Vid['rotation'];
  roi?: Vid['roi'];
  /** exposure time in microseconds */
  shutter?: Vid['shutter'];
  gain?: Vid['gain'];
  ev?: Vid['ev'];
  awb?: (typeof AWB_MODES)[number];
  awbgains?: Vid['awbgains'];
  metering?: Vid['metering'];
  exposure?: Vid['exposure'];
  denoise?: Vid['denoise'];
  sharpness?: Vid['sharpness'];
  contrast?: Vid['contrast'];
  brightness?: Vid['brightness'];
  saturation?: Vid['saturation'];
  tuning_file?: Vid['tuning-file'];
  /** MJPEG quality 1..100 (rpicam-vid's default is 50) */
  quality?: Vid['quality'];
  /** further rpicam-vid arguments, passed as separate argv entries (never through a shell) */
  args: string[];
}

/** `camera.ffmpeg` — USB webcams (v4l2), RTSP/HTTP cameras and video files. */
export interface FfmpegOptions {
  /** /dev/videoN, rtsp://…, http://…, or a file path */
  input: string;
  /** ffmpeg demuxer (`-f` before `-i`); default v4l2 for /dev/video*, otherwise probed by ffmpeg */
  format?: string;
  /** extra input options placed before `-i`, e.g. ['-input_format', 'mjpeg'] or ['-rtsp_transport', 'udp'] */
  args: string[];
  /** read at native speed (`-re`); default: true for files, false for devices and streams */
  realtime?: boolean;
  /** loop a file forever (`-stream_loop -1`); ignored for devices and streams; default true */
  loop: boolean;
  /** mjpeg (default) or rgb24 raw frames at camera.width×camera.height */
  output: 'mjpeg' | 'rgb24';
  /** MJPEG quality as ffmpeg's -q:v, 2 (best) .. 31; default 5 */
  quality: number;
  binary: string;
}

/** `camera.files` as configured (the files source itself also takes camera.fps). */
export interface FilesSectionOptions {
  /** a directory of images or a glob (required when source is files) */
  path?: string;
  loop: boolean;
  /** 'pipeline': wait for each frame's `release` before reading the next (default 'fps': the clock only) */
  pace?: 'fps' | 'pipeline';
}

export type CameraSourceKind = 'libcamera' | 'ffmpeg' | 'files' | 'auto';

export interface CameraConfig {
  name: string;
  source: CameraSourceKind;
  width: number;
  height: number;
  fps: number;
  stall_timeout_s: number;
  libcamera: LibcameraOptions;
  ffmpeg: FfmpegOptions;
  files: FilesSectionOptions;
}

/** Shared keys every source receives. */
export interface CommonCaptureOptions {
  width: number;
  height: number;
  fps: number;
  stallTimeoutS: number;
}

const num = (description: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ type: 'number', description, ...extra });

/** JSON-Schema (draft-07, ajv with useDefaults) for `camera.libcamera`. */
export const libcameraOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'rpicam-vid (libcamera-vid) options; names follow the rpicam-vid flags with - replaced by _',
  properties: {
    binary: { type: 'string', minLength: 1, description: 'program to run; default rpicam-vid, else libcamera-vid on PATH' },
    codec: { type: 'string', enum: [...LIBCAMERA_CODECS], default: 'mjpeg', description: 'mjpeg, or yuv420 for raw frames (no JPEG decode)' },
    camera: { type: 'integer', minimum: 0, description: 'camera index (--camera)' },
    hflip: { type: 'boolean', default: false, description: 'mirror horizontally' },
    vflip: { type: 'boolean', default: false, description: 'flip vertically' },
    rotation: { type: 'integer', enum: [...ROTATIONS], default: 0, description: 'rotate the image (0 or 180)' },
    roi: {
      type: 'object',
      additionalProperties: false,
      required: ['x', 'y', 'w', 'h'],
      description: 'crop (digital zoom) as fractions of the full field of view',
      properties: {
        x: num('left edge, 0..1', { minimum: 0, maximum: 1 }),
        y: num('top edge, 0..1', { minimum: 0, maximum: 1 }),
        w: num('width, 0..1', { exclusiveMinimum: 0, maximum: 1 }),
        h: num('height, 0..1', { exclusiveMinimum: 0, maximum: 1 }),
      },
    },
    shutter: { type: 'integer', exclusiveMinimum: 0, description: 'fixed exposure time in microseconds' },
    gain: num('fixed analogue (+digital) gain', { minimum: 0 }),
    ev: num('EV compensation in stops', { minimum: -10, maximum: 10 }),
    awb: { type: 'string', enum: [...AWB_MODES], description: 'white balance mode' },
    awbgains: {
      type: 'array',
      items: { type: 'number', minimum: 0 },
      minItems: 2,
      maxItems: 2,
      description: 'fixed red and blue gains (disables AWB)',
    },
    metering: { type: 'string', enum: [...METERING_MODES], description: 'AEC/AGC metering mode' },
    exposure: { type: 'string', enum: [...EXPOSURE_MODES], description: 'exposure profile' },
    denoise: { type: 'string', enum: [...DENOISE_MODES], description: 'denoise mode' },
    sharpness: num('0 = none, 1 = default', { minimum: 0 }),
    contrast: num('0 = minimum, 1 = default', { minimum: 0 }),
    brightness: num('-1 .. 1, 0 = default', { minimum: -1, maximum: 1 }),
    saturation: num('0 = greyscale, 1 = default', { minimum: 0 }),
    tuning_file: { type: 'string', minLength: 1, description: 'camera tuning JSON file' },
    quality: { type: 'integer', minimum: 1, maximum: 100, description: 'MJPEG quality (rpicam-vid default 50)' },
    args: { type: 'array', items: { type: 'string' }, default: [], description: 'extra rpicam-vid arguments, one argv entry each' },
  },
};

/** JSON-Schema for `camera.ffmpeg`. `input` is only required when camera.source is ffmpeg (checked by the source). */
export const ffmpegOptionsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: 'ffmpeg input: USB webcam (/dev/videoN), RTSP/HTTP URL or video file',
  properties: {
    input: { type: 'string', default: '', description: '/dev/videoN, rtsp://…, http://… or a file path' },
    format: { type: 'string', minLength: 1, description: 'input demuxer (-f), default v4l2 for /dev/video*' },
    args: { type: 'array', items: { type: 'string' }, default: [], description: 'extra input options before -i, one argv entry each' },
    realtime: { type: 'boolean', description: 'read at native frame rate (-re); default true for files only' },
    loop: { type: 'boolean', default: true, description: 'loop a video file forever' },
    output: { type: 'string', enum: ['mjpeg', 'rgb24'], default: 'mjpeg', description: 'mjpeg frames, or raw rgb24 at camera.width×height' },
    quality: { type: 'integer', minimum: 2, maximum: 31, default: 5, description: 'MJPEG -q:v (2 best .. 31 worst)' },
    binary: { type: 'string', minLength: 1, default: 'ffmpeg', description: 'ffmpeg program' },
  },
};
