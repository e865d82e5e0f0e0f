import { MjpegSplitter } from './mjpeg-splitter.js';
/**
 * Cuts a raw video byte stream (yuv420 from rpicam-vid, rgb24 from ffmpeg) into fixed-size frames.
 * Holds at most one frame's worth of bytes.
 */
export class FixedSizeSplitter {
  private buf: Buffer;
  private filled = 0;

  constructor(readonly frameBytes: number) {
    if (!Number.isInteger(frameBytes) || frameBytes <= 0) throw new RangeError(`frameBytes must be a positive integer, got ${frameBytes}`);
    this.buf = Buffer.allocUnsafe(frameBytes);
  }

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      const take = Math.min(this.frameBytes - this.filled, chunk.length - i);
      chunk.copy(this.buf, this.filled, i, i + take);
      this.filled += take;
      i += take;
      if (this.filled === this.frameBytes) {
        out.push(this.buf);
        this.buf = Buffer.allocUnsafe(this.frameBytes);
        this.filled = 0;
      }
    }
    return out;
  }

  get bufferedBytes(): number {
    return this.filled;
  }
}

/**
 * Byte layout of one yuv420 (I420) frame as rpicam-vid writes it: the luma plane has `stride` bytes per
 * row, stride = width rounded up to a multiple of 64; each chroma plane (U then V) has stride/2 bytes per
 * row and ceil(height/2) rows. So size = stride*height + 2*(stride/2)*ceil(height/2), e.g. 640×480 →
 * stride 640, 460 800 bytes; 1000×750 → stride 1024, 1024*750 + 2*512*375 = 1 152 000 bytes.
 */
export function yuv420Layout(width: number, height: number): { stride: number; frameBytes: number } {
  const stride = Math.ceil(width / 64) * 64;
  const chromaStride = stride / 2;
  const chromaRows = Math.ceil(height / 2);
  return { stride, frameBytes: stride * height + 2 * chromaStride * chromaRows };
}

/**
 * The stdout parser of a camera process: fixed-size raw frames when `rawFrameBytes` is given, else an
 * MJPEG stream whose malformed frames are reported as `corrupt` and logged (one splitter per process run).
 */
export function createFrameParser(
  rawFrameBytes: number | null,
  source: string,
  hooks: { onEvent?: (ev: { type: 'corrupt'; reason: string }) => void; log?: { warn(obj: object, msg?: string): void } },
): (chunk: Buffer) => Buffer[] {
  if (rawFrameBytes !== null) {
    const s = new FixedSizeSplitter(rawFrameBytes);
    return (chunk) => s.push(chunk);
  }
  const s = new MjpegSplitter({
    onDrop: (reason) => {
      hooks.onEvent?.({ type: 'corrupt', reason });
      hooks.log?.warn({ source, reason }, 'dropped a malformed MJPEG frame');
    },
  });
  return (chunk) => s.push(chunk);
}
