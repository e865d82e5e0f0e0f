/** A frame as it leaves a capture source. Encoded frames carry JPEG/PNG bytes; raw frames carry pixels. */
export interface EncodedFrame {
  kind: 'encoded';
  id: number;
  /** ms since epoch when the source produced (or received) the frame */
  capturedAt: number;
  /** monotonic ms (performance.now()) at capture, for latency maths that must not jump with the wall clock */
  capturedMono: number;
  data: Buffer;
  /** e.g. 'jpeg' | 'png' — informative; the decoder sniffs the bytes */
  format: string;
  /** source-side label, e.g. a file path, for logs and the `detect` CLI */
  origin?: string;
  /** see RawFrame.release */
  release?: () => void;
}

export interface RawFrame {
  kind: 'raw';
  id: number;
  capturedAt: number;
  capturedMono: number;
  data: Buffer;
  format: 'rgb24' | 'yuv420';
  width: number;
  height: number;
  /** bytes per row of the luma / rgb plane (rpicam-vid pads yuv420 rows to a multiple of 64) */
  stride: number;
  origin?: string;
  /**
   * Set by a source that waits for the pipeline (files with `pace: pipeline`): the pipeline calls it
   * once the frame has entered inference, or has been dropped or failed; the source then reads the next.
   * Calling it more than once is harmless.
   */
  release?: () => void;
}

export type Frame = EncodedFrame | RawFrame;

/** Events a source reports beside its frames (counted by metrics, logged by the daemon). */
export type SourceEvent =
  | { type: 'started'; detail: string }
  | { type: 'restart'; reason: string; attempt: number; delayMs: number }
  | { type: 'stall'; afterMs: number }
  | { type: 'corrupt'; reason: string }
  | { type: 'missing'; detail: string }
  | { type: 'stderr'; line: string };
