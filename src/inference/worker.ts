import { parentPort } from 'node:worker_threads';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { createSession, ort } from './session.js';
import { cpusAllowedList, currentTid, lastCpu, pinThread, threadIds } from './affinity.js';
import { nowMs as epochNow } from '../metrics/timing.js';
import type { AffinityReport, FromWorker, ModelSpecForWorker, TensorOut, ToWorker, WorkerInitMessage } from './protocol.js';

/**
 * The inference worker: owns both ONNX Runtime sessions and runs them one after the other on its own
 * (pinned) OS thread, because session.run blocks the thread that calls it.
 */
const port = parentPort;
if (!port) throw new Error('inference worker must run in a worker thread');

type Model = { s: InferenceSession; m: ModelSpecForWorker };
let det: Model | null = null;
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
  await det?.s.release();
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
  det = { s: await createSession(i.detector.path, settings), m: i.detector };
  seg = i.segmenter ? { s: await createSession(i.segmenter.path, settings), m: i.segmenter } : null;
  // a warm-up run per model that also checks the output shapes the manifest implies: a mismatched
  // model fails here, at load, with a clear message — not on every frame
  if (det.m.probe) await probe(det, 'detector');
  if (seg?.m.probe) await probe(seg, 'segmenter');
  const ortThreads = threadIds()
    .filter((t) => !before.has(t))
    .map((t) => ({ tid: t, allowed: cpusAllowedList(t) }));
  const affinity: AffinityReport = {
    ...pinned,
    lastCpu: lastCpu(pinned.tid),
    ortThreads,
    ...(i.intraOpAffinities ? { intraOpAffinities: i.intraOpAffinities } : {}),
  };
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

async function runOne(model: Model, which: 'detector' | 'segmenter', data: Float32Array, shape: number[]): Promise<Record<string, TensorOut>> {
  let out: Awaited<ReturnType<InferenceSession['run']>>;
  try {
    out = await model.s.run({ [model.m.inputName]: new ort.Tensor('float32', data, shape) });
  } catch (e) {
    throw new RunError(`${which} run failed: ${(e as Error).message}`, which);
  }
  const result: Record<string, TensorOut> = {};
  for (const name of model.m.outputNames) {
    const t = out[name] as OrtTensor | undefined;
    if (!t) throw new RunError(`${which} ${model.m.path} has no output '${name}' (it has ${Object.keys(out).join(', ')})`, which);
    if (t.type !== 'float32') throw new RunError(`${which} output '${name}' is ${t.type}, expected float32`, which);
    result[name] = { data: t.data as Float32Array, dims: [...t.dims] };
  }
  return result;
}

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
      case 'hop': {
        // answered like a run (a result message, the buffer transferred back) so only session.run is missing
        const t = epochNow();
        post({ type: 'result', id: msg.id, det: { input: { data: msg.det, dims: msg.detShape } }, detStart: t, detEnd: t }, [
          msg.det.buffer as ArrayBuffer,
        ]);
        return;
      }
      case 'quit':
        await quit();
        return;
      case 'run': {
        running = true;
        try {
          if (!det) throw new RunError('worker not initialised', 'detector');
          if (msg.seg && !seg) throw new RunError('a segmentation input was sent but no segmenter is loaded', 'segmenter');
          // detection then segmentation, back to back on this one thread: the pinned core is never shared
          const detStart = epochNow();
          const d = await runOne(det, 'detector', msg.det, msg.detShape);
          const detEnd = epochNow();
          let s: Record<string, TensorOut> | undefined;
          let segStart: number | undefined;
          let segEnd: number | undefined;
          if (msg.seg && seg) {
            segStart = epochNow();
            s = await runOne(seg, 'segmenter', msg.seg, msg.segShape!);
            segEnd = epochNow();
          }
          const transfer = [...Object.values(d), ...Object.values(s ?? {})].map((t) => t.data.buffer as ArrayBuffer);
          post({ type: 'result', id: msg.id, det: d, seg: s, detStart, detEnd, segStart, segEnd }, [...new Set(transfer)]);
        } catch (e) {
          post({ type: 'run-error', id: msg.id, message: (e as Error).message, model: e instanceof RunError ? e.model : 'detector' });
        } finally {
          running = false;
        }
        if (quitting) await quit();
        return;
      }
    }
  })();
});
