/** Messages between the daemon and its inference worker. Tensors travel as transferred ArrayBuffers. */
export interface ModelSpecForWorker {
  path: string;
  inputName: string;
  outputNames: string[];
}

export interface WorkerInit {
  detector: ModelSpecForWorker;
  segmenter: ModelSpecForWorker | null;
  core: number | null;
  threads: number;
  spinning: boolean;
}

export interface AffinityReport {
  tid: number;
  requested: string | null;
  /** Cpus_allowed_list of the inference thread, read back from /proc after pinning */
  allowed: string;
  error?: string;
}

export type ToWorker =
  | { type: 'init'; init: WorkerInit }
  | { type: 'run'; id: number; det: Float32Array; detShape: number[]; seg?: Float32Array; segShape?: number[] }
  | { type: 'ping'; id: number };

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
  | { type: 'run-error'; id: number; message: string }
  | { type: 'pong'; id: number };
