/** Messages between the daemon and its inference worker. Tensors travel as transferred ArrayBuffers. */
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
  | { type: 'run'; id: number; det: Float32Array; detShape: number[]; seg?: Float32Array; segShape?: number[] }
  | { type: 'ping'; id: number }
  /** the hop alone: the input goes over and comes back (transferred both ways) as in a run, without session.run */
  | { type: 'hop'; id: number; det: Float32Array; detShape: number[] }
  /** finish the run in progress (if any), release the sessions and exit the thread */
  | { type: 'quit' };

export interface TensorOut {
  data: Float32Array;
  dims: number[];
}

export type FromWorker =
  | { type: 'ready'; affinity: AffinityReport; loadMs: number }
  | { type: 'init-error'; message: string }
  | {
      type: 'result';
      id: number;
      det: Record<string, TensorOut>;
      seg?: Record<string, TensorOut>;
      /** ms on metrics/timing's nowMs() clock (process-wide monotonic), comparable with main-thread stamps */
      detStart: number;
      detEnd: number;
      segStart?: number;
      segEnd?: number;
    }
  | { type: 'run-error'; id: number; message: string; model: 'detector' | 'segmenter' }
  | { type: 'pong'; id: number };
