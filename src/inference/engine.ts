import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import type { AffinityReport, FromWorker, TensorOut, ToWorker, WorkerInit } from './protocol.js';

export interface InferenceResult {
  det: Record<string, TensorOut>;
  seg?: Record<string, TensorOut>;
  detStart: number;
  detEnd: number;
  segStart?: number;
  segEnd?: number;
}

export type EngineEvent =
  | { type: 'ready'; affinity: AffinityReport; loadMs: number; restart: number }
  | { type: 'run-error'; message: string }
  | { type: 'stall'; afterMs: number }
  | { type: 'crash'; message: string }
  | { type: 'restart'; attempt: number; delayMs: number; reason: string };

export interface EngineOptions {
  init: WorkerInit;
  stallTimeoutMs: number;
  /** restart backoff: initial and cap (ms) */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** test hook: a different worker script */
  workerUrl?: URL;
}

export class InferenceBusyError extends Error {}
export class EngineStoppedError extends Error {}

/**
 * Owns the inference worker: one run at a time (the busy flag the pipeline's drop-if-busy reads),
 * stall detection, and restart with capped exponential backoff after a crash or a stall. A failed run
 * rejects only that run; the engine stays up.
 */
export class InferenceEngine extends EventEmitter {
  private worker: Worker | null = null;
  private inFlight: { id: number; resolve: (r: InferenceResult) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  private pings = new Map<number, () => void>();
  private nextId = 1;
  private stopped = false;
  private restarting = false;
  private restarts = 0;
  private consecutiveFailures = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  affinity: AffinityReport | null = null;
  lastAnswerAt = performance.now();

  constructor(private readonly opts: EngineOptions) {
    super();
  }

  override emit(event: 'event', ev: EngineEvent): boolean {
    return super.emit(event, ev);
  }

  get busy(): boolean {
    return this.inFlight !== null || this.restarting || !this.worker;
  }

  get restartCount(): number {
    return this.restarts;
  }

  /** Start the worker and load the models; rejects with the load error (a bad model stops the daemon). */
  async start(): Promise<AffinityReport> {
    const ready = await this.spawn();
    return ready.affinity;
  }

  private spawn(): Promise<{ affinity: AffinityReport; loadMs: number }> {
    return new Promise((resolve, reject) => {
      const w = new Worker(this.opts.workerUrl ?? new URL('./worker.js', import.meta.url));
      this.worker = w;
      let ready = false;
      w.on('message', (msg: FromWorker) => {
        this.lastAnswerAt = performance.now();
        switch (msg.type) {
          case 'ready':
            ready = true;
            this.affinity = msg.affinity;
            this.emit('event', { type: 'ready', affinity: msg.affinity, loadMs: msg.loadMs, restart: this.restarts });
            resolve(msg);
            return;
          case 'init-error':
            reject(new Error(`inference worker could not load the models: ${msg.message}`));
            void w.terminate();
            return;
          case 'result':
            this.settle(msg.id, null, msg);
            this.consecutiveFailures = 0;
            return;
          case 'run-error':
            this.emit('event', { type: 'run-error', message: msg.message });
            this.settle(msg.id, new Error(msg.message));
            return;
          case 'pong':
            this.pings.get(msg.id)?.();
            this.pings.delete(msg.id);
            return;
        }
      });
      w.on('error', (e) => {
        if (!ready) reject(new Error(`inference worker failed to start: ${e.message}`));
        else this.onWorkerLost(`crashed: ${e.message}`);
      });
      w.on('exit', (code) => {
        if (this.worker !== w) return;
        this.worker = null;
        if (!ready) reject(new Error(`inference worker exited (code ${code}) before loading the models`));
        else if (!this.stopped) this.onWorkerLost(`exited with code ${code}`);
      });
      this.send({ type: 'init', init: this.opts.init });
    });
  }

  private send(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker?.postMessage(msg, transfer);
  }

  private settle(id: number, err: Error | null, res?: FromWorker & { type: 'result' }): void {
    const f = this.inFlight;
    if (!f || f.id !== id) return;
    clearTimeout(f.timer);
    this.inFlight = null;
    if (err) f.reject(err);
    else f.resolve({ det: res!.det, seg: res!.seg, detStart: res!.detStart, detEnd: res!.detEnd, segStart: res!.segStart, segEnd: res!.segEnd });
  }

  /** Run detection (and segmentation when `seg` is given). Tensors are transferred, not copied. */
  run(det: Float32Array, detShape: number[], seg?: { data: Float32Array; shape: number[] }): Promise<InferenceResult> {
    if (this.stopped) return Promise.reject(new EngineStoppedError('inference engine stopped'));
    if (this.busy) return Promise.reject(new InferenceBusyError('inference worker busy'));
    const id = this.nextId++;
    return new Promise<InferenceResult>((resolve, reject) => {
      const timer = setTimeout(() => this.onStall(id), this.opts.stallTimeoutMs);
      this.inFlight = { id, resolve, reject, timer };
      const transfer = [det.buffer as ArrayBuffer];
      if (seg) transfer.push(seg.data.buffer as ArrayBuffer);
      this.send({ type: 'run', id, det, detShape, seg: seg?.data, segShape: seg?.shape }, transfer);
    });
  }

  /** Resolves true when the worker answers within `timeoutMs` (it answers between runs, so a hung run fails this). */
  ping(timeoutMs: number): Promise<boolean> {
    if (!this.worker) return Promise.resolve(false);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pings.delete(id);
        resolve(false);
      }, timeoutMs);
      this.pings.set(id, () => {
        clearTimeout(t);
        resolve(true);
      });
      this.send({ type: 'ping', id });
    });
  }

  private onStall(id: number): void {
    if (!this.inFlight || this.inFlight.id !== id) return;
    this.emit('event', { type: 'stall', afterMs: this.opts.stallTimeoutMs });
    this.onWorkerLost(`stalled: a run took longer than ${this.opts.stallTimeoutMs} ms`);
  }

  private onWorkerLost(reason: string): void {
    if (this.stopped || this.restarting) return;
    this.restarting = true;
    if (!reason.startsWith('stalled')) this.emit('event', { type: 'crash', message: reason });
    const f = this.inFlight;
    if (f) {
      clearTimeout(f.timer);
      this.inFlight = null;
      f.reject(new Error(`inference worker ${reason}`));
    }
    const w = this.worker;
    this.worker = null;
    if (w) void w.terminate();
    this.consecutiveFailures++;
    const initial = this.opts.backoffInitialMs ?? 1000;
    const max = this.opts.backoffMaxMs ?? 30000;
    const delayMs = Math.min(max, initial * 2 ** (this.consecutiveFailures - 1));
    this.restarts++;
    this.emit('event', { type: 'restart', attempt: this.restarts, delayMs, reason });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopped) return;
      this.spawn().then(
        () => {
          this.restarting = false;
        },
        (e: Error) => {
          this.restarting = false;
          this.onWorkerLost(`restart failed: ${e.message}`);
        },
      );
    }, delayMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const f = this.inFlight;
    if (f) {
      clearTimeout(f.timer);
      this.inFlight = null;
      f.reject(new EngineStoppedError('inference engine stopped'));
    }
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
