/**
 * Messages between the daemon and its inference worker. Tensors travel through shared slots (see
 * slots.ts); a message carries a run only when the slots change.
 */
import type { SlotBuffers } from './slots.js';

export interface ModelSpecForWorker {
  path: string;
  inputName: string;
  outputNames: string[];
  /**
   * A warm-up run at load: input shape, and the output shapes the manifest implies. A model whose
   * outputs do not match is refused at start (clear message) instead of failing on every frame.
   */
  probe?: { inputShape: number[]; expect: Record<string, number[]> };
}

export interface WorkerInit {
  detector: ModelSpecForWorker;
  segmenter: ModelSpecForWorker | null;
  /** the core the worker thread pins itself to (already resolved: no -1); null = no pinning */
  core: number | null;
  threads: number;
  spinning: boolean;
}

/** What the engine sends: the settings plus what it derived from them in the main thread. */
export interface WorkerInitMessage extends WorkerInit {
  /** ORT `session.intra_op_thread_affinities` for threads > 1 (computed where the process's CPU set is known) */
  intraOpAffinities?: string;
}

export interface ThreadAffinity {
  tid: number;
  /** its Cpus_allowed_list */
  allowed: string;
}

export interface AffinityReport {
  tid: number;
  requested: string | null;
  /** Cpus_allowed_list of the inference thread, read back from /proc after pinning */
  allowed: string;
  /** the CPU the inference thread last ran on, read after the models loaded on it */
  lastCpu: number;
  /** ORT's `session.intra_op_thread_affinities` given to both sessions (threads > 1) */
  intraOpAffinities?: string;
  /**
   * Threads that appeared while the worker created its ORT sessions (ORT's intra-op pool threads and its
   * housekeeping thread) with the affinity they ended up with.
   */
  ortThreads: ThreadAffinity[];
  error?: string;
}

export type ToWorker =
  | { type: 'init'; init: WorkerInitMessage }
  /** run `id` whose inputs are in these (new or grown) slots; later runs are requested through them with Atomics */
  | { type: 'run'; id: number; slots: SlotBuffers }
  | { type: 'ping'; id: number }
  /** finish the run in progress (if any), release the sessions and exit the thread */
  | { type: 'quit' };

export interface TensorOut {
  /** a view into the engine's shared output slot: valid until the next run on the same engine */
  data: Float32Array;
  dims: number[];
}

export type FromWorker =
  | { type: 'ready'; affinity: AffinityReport; loadMs: number }
  | { type: 'init-error'; message: string }
  /**
   * run `id` finished, its outputs (and stamps) are in this output slot, which is new or grown; runs
   * whose outputs fit the current one are answered through the control block instead
   */
  | { type: 'result'; id: number; output: SharedArrayBuffer }
  | { type: 'run-error'; id: number; message: string; model: 'detector' | 'segmenter' }
  | { type: 'pong'; id: number };
