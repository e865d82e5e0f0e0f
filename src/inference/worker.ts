import { parentPort } from 'node:worker_threads';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { createSession, ort } from './session.js';
import { cpusAllowedList, currentTid, intraOpAffinities, pinThread } from './affinity.js';
import { nowMs as epochNow } from '../metrics/timing.js';
import type { AffinityReport, FromWorker, ModelSpecForWorker, TensorOut, ToWorker, WorkerInit } from './protocol.js';

/**
 * The inference worker: owns both ONNX Runtime sessions and runs them one after the other on its own
 * (pinned) OS thread, because session.run blocks the thread that calls it.
 */
const port = parentPort;
if (!port) throw new Error('inference worker must run in a worker thread');

let det: { s: InferenceSession; m: ModelSpecForWorker } | null = null;
let seg: { s: InferenceSession; m: ModelSpecForWorker } | null = null;

function post(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

function pin(init: WorkerInit): AffinityReport {
  const tid = currentTid();
  if (init.core === null) return { tid, requested: null, allowed: cpusAllowedList(tid) };
  const list = init.threads > 1 ? `${init.core}-${init.core + init.threads - 1}` : String(init.core);
  try {
    pinThread(tid, String(init.core));
  } catch (e) {
    return { tid, requested: list, allowed: cpusAllowedList(tid), error: (e as Error).message };
  }
  return { tid, requested: String(init.core), allowed: cpusAllowedList(tid) };
}

async function init(i: WorkerInit): Promise<void> {
  const t0 = performance.now();
  const affinity = pin(i);
  const affinities = i.core === null ? undefined : intraOpAffinities(i.core, i.threads);
  const settings = { threads: i.threads, spinning: i.spinning, intraOpAffinities: affinities };
  det = { s: await createSession(i.detector.path, settings), m: i.detector };
  seg = i.segmenter ? { s: await createSession(i.segmenter.path, settings), m: i.segmenter } : null;
  post({ type: 'ready', affinity, loadMs: performance.now() - t0 });
}

async function runOne(model: { s: InferenceSession; m: ModelSpecForWorker }, data: Float32Array, shape: number[]): Promise<Record<string, TensorOut>> {
  const out = await model.s.run({ [model.m.inputName]: new ort.Tensor('float32', data, shape) });
  const result: Record<string, TensorOut> = {};
  for (const name of model.m.outputNames) {
    const t = out[name] as OrtTensor | undefined;
    if (!t) throw new Error(`model ${model.m.path} has no output '${name}' (it has ${Object.keys(out).join(', ')})`);
    if (t.type !== 'float32') throw new Error(`output '${name}' is ${t.type}, expected float32`);
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
      case 'run': {
        try {
          if (!det) throw new Error('worker not initialised');
          const detStart = epochNow();
          const d = await runOne(det, msg.det, msg.detShape);
          const detEnd = epochNow();
          let s: Record<string, TensorOut> | undefined;
          let segStart: number | undefined;
          let segEnd: number | undefined;
          if (msg.seg && seg) {
            segStart = epochNow();
            s = await runOne(seg, msg.seg, msg.segShape!);
            segEnd = epochNow();
          }
          const transfer = [...Object.values(d), ...Object.values(s ?? {})].map((t) => t.data.buffer as ArrayBuffer);
          post({ type: 'result', id: msg.id, det: d, seg: s, detStart, detEnd, segStart, segEnd }, [...new Set(transfer)]);
        } catch (e) {
          post({ type: 'run-error', id: msg.id, message: (e as Error).message });
        }
        return;
      }
    }
  })();
});
