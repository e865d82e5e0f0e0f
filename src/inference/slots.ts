/**
 * The shared-memory hop between the engine and its worker: the input tensors, the output tensors and a
 * small control block live in SharedArrayBuffers, and a run is requested and answered by bumping a
 * sequence number with Atomics (no postMessage, no structured clone, no per-frame buffer). A message is
 * used only when the buffers must change size (the first run, a new input size, bigger outputs).
 *
 * Control block (Int32 words):
 *   REQ      id of the requested run (the engine stores it, then notifies)
 *   DONE     id of the last run the worker finished through the slots (the worker notifies)
 *   KIND     0 = detector, 1 = detector then segmenter, 2 = no-op (the hop alone, for the benchmark)
 *   DET_LEN / SEG_LEN   floats of each input in the input slot (det first, seg right after)
 *   DET_SHAPE / SEG_SHAPE   4 dims each
 *   OUT_COUNT, then per output: offset (floats into the output slot), rank, 4 dims
 * Then 4 float64 stamps: detStart, detEnd, segStart, segEnd.
 */
export const REQ = 0;
export const DONE = 1;
export const KIND = 2;
export const DET_LEN = 3;
export const SEG_LEN = 4;
export const DET_SHAPE = 5;
export const SEG_SHAPE = 9;
export const OUT_COUNT = 13;
export const OUT_TABLE = 14;
const OUT_WORDS = 6;
export const MAX_OUTPUTS = 16;
const CTRL_WORDS = OUT_TABLE + OUT_WORDS * MAX_OUTPUTS;
const STAMPS_OFFSET = Math.ceil((CTRL_WORDS * 4) / 8) * 8;
const CTRL_BYTES = STAMPS_OFFSET + 4 * 8;

export const KIND_DET = 0;
export const KIND_DET_SEG = 1;
export const KIND_NOOP = 2;

export interface SlotBuffers {
  ctrl: SharedArrayBuffer;
  input: SharedArrayBuffer;
}

/** Typed views over a control block. */
export class Control {
  readonly i32: Int32Array;
  readonly stamps: Float64Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer, 0, CTRL_WORDS);
    this.stamps = new Float64Array(buffer, STAMPS_OFFSET, 4);
  }

  static create(): Control {
    return new Control(new SharedArrayBuffer(CTRL_BYTES));
  }

  setShape(at: number, shape: readonly number[]): void {
    if (shape.length > 4) throw new Error(`tensor rank ${shape.length} > 4 does not fit the shared slot`);
    for (let k = 0; k < 4; k++) this.i32[at + k] = k < shape.length ? shape[k]! : -1;
  }

  shape(at: number): number[] {
    const s: number[] = [];
    for (let k = 0; k < 4 && this.i32[at + k]! >= 0; k++) s.push(this.i32[at + k]!);
    return s;
  }

  /** output i: where it sits in the output slot and its dims */
  setOutput(i: number, offset: number, dims: readonly number[]): void {
    const at = OUT_TABLE + OUT_WORDS * i;
    this.i32[at] = offset;
    this.i32[at + 1] = dims.length;
    this.setShape(at + 2, dims);
  }

  output(i: number): { offset: number; dims: number[] } {
    const at = OUT_TABLE + OUT_WORDS * i;
    return { offset: this.i32[at]!, dims: this.shape(at + 2).slice(0, this.i32[at + 1]!) };
  }
}

export function elements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
/** Atomics.waitAsync (Node ≥ 16; the project's TypeScript lib predates its typing). */
export const waitAsync: (a: Int32Array, index: number, value: number, timeoutMs?: number) => WaitAsyncResult = (
  Atomics as unknown as { waitAsync: (a: Int32Array, index: number, value: number, timeoutMs?: number) => WaitAsyncResult }
).waitAsync.bind(Atomics);
