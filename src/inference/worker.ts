import { parentPort } from 'node:worker_threads';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { createSession, ort } from './session.js';
import { cpusAllowedList, currentTid, lastCpu, pinThread, threadIds } from './affinity.js';
import { nowMs as epochNow } from '../metrics/timing.js';
import type { AffinityReport, FromWorker, ModelSpecForWorker, TensorOut, ToWorker, WorkerInitMessage } from './protocol.js';
import { Control, DET_LEN, DET_SHAPE, DONE, elements, KIND, KIND_DET_SEG, KIND_NOOP, MAX_OUTPUTS, REQ, SEG_LEN, SEG_SHAPE, OUT_COUNT, waitAsync, type SlotBuffers } from './slots.js';

/**
 * The inference worker: owns both ONNX Runtime sessions and runs them one after the other on its own
 * (pinned) OS thread, because session.run blocks the thread that calls it.
 */
const port = parentPort;
if (!port) throw new Error('inference worker must run in a worker thread');

/**
 * A model with the buffers it reuses on every run: its input (ORT rejects tensors over shared memory,
 * so the shared input slot is copied into this private one) and its preallocated outputs.
 */
type Model = {
  s: InferenceSession;
  m: ModelSpecForWorker;
  input?: { key: string; data: Float32Array; tensor: OrtTensor };
  outputs?: { key: string; fetches: Record<string, OrtTensor> };
};
let detModel: Model | null = null;
let seg: Model | null = null;

let running = false;
let quitting = false;

/**
 * Leave only between runs. Terminating the isolate while ORT is inside session.run makes the binding
 * throw a C++ exception when the run returns, which aborts the whole process — so the engine never
 * terminate()s a busy worker: it asks it to quit, and the thread goes once its run is over.
 */
async function quit(): Promise<void> {
  quitting = true;
  if (running) return;
  await detModel?.s.release();
  await seg?.s.release();
  process.exit(0);
}

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

/** Pin before the sessions exist, so every thread ORT creates from here inherits the core. */
function pin(i: WorkerInitMessage): Omit<AffinityReport, 'lastCpu' | 'ortThreads'> {
  const tid = currentTid();
  if (i.core === null) return { tid, requested: null, allowed: cpusAllowedList(tid) };
  const requested = String(i.core);
  try {
    pinThread(tid, requested);
  } catch (e) {
    return { tid, requested, allowed: cpusAllowedList(tid), error: (e as Error).message };
  }
  const allowed = cpusAllowedList(tid);
  if (allowed !== requested) return { tid, requested, allowed, error: `asked for core ${requested} but the thread may run on ${allowed}` };
  return { tid, requested, allowed };
}

async function init(i: WorkerInitMessage): Promise<void> {
  const t0 = performance.now();
  const pinned = pin(i);
  const before = new Set(threadIds());
  const settings = { threads: i.threads, spinning: i.spinning, intraOpAffinities: i.intraOpAffinities };
  detModel = { s: await createSession(i.detector.path, settings), m: i.detector };
  seg = i.segmenter ? { s: await createSession(i.segmenter.path, settings), m: i.segmenter } : null;
  // a warm-up run per model that also checks the output shapes the manifest implies: a mismatched
  // model fails here, at load, with a clear message — not on every frame
  if (detModel.m.probe) await probe(detModel, 'detector');
  if (seg?.m.probe) await probe(seg, 'segmenter');
  const ortThreads = threadIds()
    .filter((t) => !before.has(t))
    .map((t) => ({ tid: t, allowed: cpusAllowedList(t) }));
  const affinity: AffinityReport = { ...pinned, lastCpu: lastCpu(pinned.tid), ortThreads, ...(i.intraOpAffinities ? { intraOpAffinities: i.intraOpAffinities } : {}) };
  post({ type: 'ready', affinity, loadMs: performance.now() - t0 });
}

class RunError extends Error {
  constructor(
    message: string,
    readonly model: 'detector' | 'segmenter',
  ) {
    super(message);
  }
}

/** Warm-up run on zeros that also checks the output shapes against the manifest. */
async function probe(model: Model, which: 'detector' | 'segmenter'): Promise<void> {
  const { inputShape, expect } = model.m.probe!;
  const out = await runOne(model, which, new Float32Array(inputShape.reduce((a, b) => a * b, 1)), inputShape);
  const problems = Object.entries(expect)
    .filter(([name, dims]) => JSON.stringify(out[name]!.dims) !== JSON.stringify(dims))
    .map(([name, dims]) => `output '${name}' has shape [${out[name]!.dims.join(', ')}], the manifest implies [${dims.join(', ')}]`);
  if (problems.length) throw new Error(`${model.m.path} does not match its manifest: ${problems.join('; ')}`);
}

/** The model's input tensor for this shape, over its reused private buffer, filled from `src`. */
function inputFor(model: Model, src: Float32Array, shape: number[]): OrtTensor {
  const key = shape.join('x');
  if (model.input?.key !== key) {
    const data = model.input && model.input.data.length === src.length ? model.input.data : new Float32Array(src.length);
    model.input = { key, data, tensor: new ort.Tensor('float32', data, shape) };
  }
  model.input.data.set(src);
  return model.input.tensor;
}

async function runOne(model: Model, which: 'detector' | 'segmenter', data: Float32Array, shape: number[]): Promise<Record<string, TensorOut>> {
  let out: Awaited<ReturnType<InferenceSession['run']>>;
  const feeds = { [model.m.inputName]: inputFor(model, data, shape) };
  const key = shape.join('x');
  try {
    // outputs preallocated from the previous run of the same input shape: ORT writes into them
    out = model.outputs?.key === key ? await model.s.run(feeds, model.outputs.fetches) : await model.s.run(feeds);
  } catch (e) {
    model.outputs = undefined;
    throw new RunError(`${which} run failed: ${(e as Error).message}`, which);
  }
  const result: Record<string, TensorOut> = {};
  for (const name of model.m.outputNames) {
    const t = (model.outputs?.key === key ? model.outputs.fetches[name] : out[name]) as OrtTensor | undefined;
    if (!t) throw new RunError(`${which} ${model.m.path} has no output '${name}' (it has ${Object.keys(out).join(', ')})`, which);
    if (t.type !== 'float32') throw new RunError(`${which} output '${name}' is ${t.type}, expected float32`, which);
    result[name] = { data: t.data as Float32Array, dims: [...t.dims] };
  }
  if (model.outputs?.key !== key) {
    const fetches = Object.fromEntries(Object.entries(result).map(([n, t]) => [n, new ort.Tensor('float32', new Float32Array(t.data.length), t.dims)]));
    model.outputs = { key, fetches };
  }
  return result;
}

// --- the shared slots -------------------------------------------------------------------------------
let ctrl: Control | null = null;
let input: Float32Array | null = null;
let output: Float32Array | null = null;
let lastHandled = 0;

function install(b: SlotBuffers): void {
  if (!ctrl || ctrl.buffer !== b.ctrl) {
    ctrl = new Control(b.ctrl);
    waitForRequests(ctrl);
  }
  if (!input || input.buffer !== b.input) input = new Float32Array(b.input);
}

/**
 * Runs requested through the control block: Atomics.waitAsync keeps this thread's event loop free between
 * runs (ping, quit). The request number is compared with the last run handled, not with the value seen
 * before the wait: the engine may post the next request while this thread is still finishing the last.
 */
function waitForRequests(c: Control): void {
  if (c !== ctrl || quitting) return;
  const cur = Atomics.load(c.i32, REQ);
  if (cur > lastHandled) {
    void handle(cur, false).then(() => waitForRequests(c));
    return;
  }
  const r = waitAsync(c.i32, REQ, cur);
  if (r.async) void r.value.then(() => waitForRequests(c));
  else waitForRequests(c);
}

/** One run from the slots; answered through the control block, or by message when the output slot had to grow. */
async function handle(id: number, viaMessage: boolean): Promise<void> {
  if (id <= lastHandled) return;
  lastHandled = id;
  const c = ctrl!;
  running = true;
  try {
    const kind = c.i32[KIND]!;
    const detLen = c.i32[DET_LEN]!;
    const detShape = c.shape(DET_SHAPE);
    const det = input!.subarray(0, detLen);
    const outs: TensorOut[] = [];
    if (kind === KIND_NOOP) {
      // the hop alone (benchmark): the same input copy as a run, no session.run
      if (!noopBuf || noopBuf.length !== det.length) noopBuf = new Float32Array(det.length);
      noopBuf.set(det);
      c.stamps[0] = c.stamps[1] = epochNow();
    } else {
      if (!detModel) throw new RunError('worker not initialised', 'detector');
      if (kind === KIND_DET_SEG && !seg) throw new RunError('a segmentation input was sent but no segmenter is loaded', 'segmenter');
      // detection then segmentation, back to back on this one thread: the pinned core is never shared
      c.stamps[0] = epochNow();
      const d = await runOne(detModel, 'detector', det, detShape);
      c.stamps[1] = epochNow();
      outs.push(...detModel.m.outputNames.map((n) => d[n]!));
      c.stamps[2] = c.stamps[3] = NaN;
      if (kind === KIND_DET_SEG && seg) {
        const segData = input!.subarray(detLen, detLen + c.i32[SEG_LEN]!);
        c.stamps[2] = epochNow();
        const s = await runOne(seg, 'segmenter', segData, c.shape(SEG_SHAPE));
        c.stamps[3] = epochNow();
        outs.push(...seg.m.outputNames.map((n) => s[n]!));
      }
    }
    if (outs.length > MAX_OUTPUTS) throw new RunError(`the models have ${outs.length} outputs, more than the ${MAX_OUTPUTS} the shared slot describes`, 'detector');
    const need = outs.reduce((a, t) => a + t.data.length, 0);
    if (!output || output.length < need) {
      output = new Float32Array(new SharedArrayBuffer(Math.max(need, 1) * 4));
      viaMessage = true;
    }
    let at = 0;
    c.i32[OUT_COUNT] = outs.length;
    outs.forEach((t, i) => {
      output!.set(t.data, at);
      c.setOutput(i, at, t.dims);
      at += elements(t.dims);
    });
    if (viaMessage) post({ type: 'result', id, output: output.buffer as SharedArrayBuffer });
    else {
      Atomics.store(c.i32, DONE, id);
      Atomics.notify(c.i32, DONE);
    }
  } catch (e) {
    post({ type: 'run-error', id, message: (e as Error).message, model: e instanceof RunError ? e.model : 'detector' });
  } finally {
    running = false;
  }
  if (quitting) await quit();
}
let noopBuf: Float32Array | null = null;

port.on('message', (msg: ToWorker) => {
  void (async () => {
    switch (msg.type) {
      case 'init':
        try {
          await init(msg.init);
        } catch (e) {
          post({ type: 'init-error', message: (e as Error).message });
        }
        return;
      case 'ping':
        post({ type: 'pong', id: msg.id });
        return;
      case 'quit':
        await quit();
        return;
      case 'run':
        install(msg.slots);
        await handle(msg.id, true);
        return;
    }
  })();
});
