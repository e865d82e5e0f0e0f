import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs/promises';
import { intraOpAffinities } from './affinity.js';
import type { AffinityReport, FromWorker, TensorOut, ToWorker, WorkerInit, WorkerInitMessage } from './protocol.js';

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
  | { type: 'run-error'; message: string; model: 'detector' | 'segmenter' }
  | { type: 'stall'; afterMs: number }
  | { type: 'crash'; message: string }
  | { type: 'restart'; attempt: number; delayMs: number; reason: string }
  /** a stalled worker's thread was still inside ORT when its replacement started (it ends when that run returns) */
  | { type: 'abandoned'; tid: number };

export interface EngineOptions {
  init: WorkerInit;
  stallTimeoutMs: number;
  /** restart backoff: initial and cap (ms) */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /**
   * A worker that stayed up this long before it failed restarts after the initial delay again; a
   * shorter-lived one keeps doubling it. So a model that fails every few frames cannot make the engine
   * restart (and reload the models) more often than once per backoffMaxMs. Default 60 s.
   */
  healthyAfterMs?: number;
  /** test hook: a different worker script */
  workerUrl?: URL;
}

export interface EngineCounters {
  runs: number;
  runErrors: number;
  stalls: number;
  crashes: number;
  restarts: number;
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
  private consecutiveFailures = 0;
  private readyAt = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  /** stalled workers whose thread has not exited yet (ORT cannot be interrupted mid-run) */
  private readonly draining = new Map<Worker, number>();
  private readonly initMsg: WorkerInitMessage;
  readonly counters: EngineCounters = { runs: 0, runErrors: 0, stalls: 0, crashes: 0, restarts: 0 };
  affinity: AffinityReport | null = null;
  lastAnswerAt = performance.now();

  /** Throws (with what to change) when inference.threads cannot all be pinned from inference.core. */
  constructor(private readonly opts: EngineOptions) {
    super();
    const i = opts.init;
    if (!(opts.stallTimeoutMs > 0)) throw new Error(`inference.stall_timeout_s must be > 0, got ${opts.stallTimeoutMs / 1000}`);
    // computed here, in the main thread: inside the pinned worker the process's CPU set is not visible
    const affinities = i.core === null ? undefined : intraOpAffinities(i.core, i.threads);
    this.initMsg = { ...i, ...(affinities ? { intraOpAffinities: affinities } : {}) };
  }

  override emit(event: 'event', ev: EngineEvent): boolean {
    return super.emit(event, ev);
  }

  get busy(): boolean {
    return this.inFlight !== null || this.restarting || !this.worker;
  }

  get restartCount(): number {
    return this.counters.restarts;
  }

  /** Start the worker and load the models; rejects with the load error (a bad model stops the daemon). */
  async start(): Promise<AffinityReport> {
    // libuv creates its thread pool on first use, from whichever thread that is; if that were the pinned
    // worker, the pool (fs, dns, zlib, sharp's callbacks) would inherit the inference core.
    await stat(process.execPath);
    const ready = await this.spawn();
    return ready.affinity;
  }

  private spawn(): Promise<{ affinity: AffinityReport; loadMs: number }> {
    return new Promise((resolve, reject) => {
      const w = new Worker(this.opts.workerUrl ?? new URL('./worker.js', import.meta.url));
      this.worker = w;
      let ready = false;
      w.on('message', (msg: FromWorker) => {
        if (this.worker !== w) return; // a stalled worker answering late
        this.lastAnswerAt = performance.now();
        switch (msg.type) {
          case 'ready':
            ready = true;
            this.affinity = msg.affinity;
            this.readyAt = performance.now();
            this.restarting = false; // before the event: a listener may run a frame at once
            this.emit('event', { type: 'ready', affinity: msg.affinity, loadMs: msg.loadMs, restart: this.counters.restarts });
            resolve(msg);
            return;
          case 'init-error':
            this.worker = null;
            void w.terminate();
            reject(new Error(`inference worker could not load the models: ${msg.message}`));
            return;
          case 'result':
            this.counters.runs++;
            this.settle(msg.id, null, msg);
            return;
          case 'run-error':
            this.counters.runErrors++;
            this.emit('event', { type: 'run-error', message: msg.message, model: msg.model });
            this.settle(msg.id, new Error(msg.message));
            return;
          case 'pong':
            this.pings.get(msg.id)?.();
            this.pings.delete(msg.id);
            return;
        }
      });
      w.on('error', (e) => {
        if (this.worker !== w) return;
        if (!ready) {
          this.worker = null;
          reject(new Error(`inference worker failed to start: ${e.message}`));
        } else this.onWorkerLost(`crashed: ${e.message}`);
      });
      w.on('exit', (code) => {
        this.draining.delete(w);
        if (!ready)
          reject(
            new Error(
              this.stopped ? 'inference engine stopped while loading the models' : `inference worker exited (code ${code}) before loading the models`,
            ),
          );
        if (this.worker !== w) return;
        this.worker = null;
        if (ready && !this.stopped) this.onWorkerLost(`exited with code ${code}`);
      });
      this.send({ type: 'init', init: this.initMsg });
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

  /**
   * Run detection (and segmentation when `seg` is given) in the worker, one after the other. The input
   * buffers are transferred, not copied: the caller's arrays are detached afterwards.
   */
  run(det: Float32Array, detShape: number[], seg?: { data: Float32Array; shape: number[] }): Promise<InferenceResult> {
    if (this.stopped) return Promise.reject(new EngineStoppedError('inference engine stopped'));
    if (this.busy) return Promise.reject(new InferenceBusyError('inference worker busy'));
    if (seg && !this.opts.init.segmenter) return Promise.reject(new Error('segmentation requested but the engine has no segmenter'));
    const id = this.nextId++;
    return new Promise<InferenceResult>((resolve, reject) => {
      const timer = setTimeout(() => this.onStall(id), this.opts.stallTimeoutMs);
      this.inFlight = { id, resolve, reject, timer };
      const transfer = [det.buffer as ArrayBuffer];
      if (seg && seg.data.buffer !== det.buffer) transfer.push(seg.data.buffer as ArrayBuffer);
      this.send({ type: 'run', id, det, detShape, seg: seg?.data, segShape: seg?.shape }, transfer);
    });
  }

  /**
   * The hop alone, for the benchmark: `det` is transferred to the worker and back exactly as in `run`,
   * but the worker does not call session.run. Counts as a run for busy/stall purposes.
   */
  hop(det: Float32Array, detShape: number[]): Promise<InferenceResult> {
    if (this.stopped) return Promise.reject(new EngineStoppedError('inference engine stopped'));
    if (this.busy) return Promise.reject(new InferenceBusyError('inference worker busy'));
    const id = this.nextId++;
    return new Promise<InferenceResult>((resolve, reject) => {
      const timer = setTimeout(() => this.onStall(id), this.opts.stallTimeoutMs);
      this.inFlight = { id, resolve, reject, timer };
      this.send({ type: 'hop', id, det, detShape }, [det.buffer as ArrayBuffer]);
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
    this.counters.stalls++;
    this.emit('event', { type: 'stall', afterMs: this.opts.stallTimeoutMs });
    this.onWorkerLost(`stalled: a run took longer than ${this.opts.stallTimeoutMs} ms`);
  }

  private onWorkerLost(reason: string): void {
    if (this.stopped || this.restarting) return;
    this.restarting = true;
    if (!reason.startsWith('stalled')) {
      this.counters.crashes++;
      this.emit('event', { type: 'crash', message: reason });
    }
    const f = this.inFlight;
    if (f) {
      clearTimeout(f.timer);
      this.inFlight = null;
      f.reject(new Error(`inference worker ${reason}`));
    }
    const w = this.worker;
    this.worker = null;
    if (w) {
      if (reason.startsWith('stalled')) this.retire(w);
      else void w.terminate(); // a crashed worker runs no ORT call any more: terminating it is safe
    }
    const upFor = this.readyAt ? performance.now() - this.readyAt : 0;
    if (upFor >= (this.opts.healthyAfterMs ?? 60_000)) this.consecutiveFailures = 0;
    this.consecutiveFailures++;
    const initial = this.opts.backoffInitialMs ?? 1000;
    const max = this.opts.backoffMaxMs ?? 30000;
    const delayMs = Math.min(max, initial * 2 ** (this.consecutiveFailures - 1));
    this.counters.restarts++;
    this.emit('event', { type: 'restart', attempt: this.counters.restarts, delayMs, reason });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopped) return;
      for (const tid of this.draining.values()) this.emit('event', { type: 'abandoned', tid });
      this.spawn().then(
        () => undefined,
        (e: Error) => {
          this.restarting = false;
          this.onWorkerLost(`restart failed: ${e.message}`);
        },
      );
    }, delayMs);
  }

  /**
   * Asks a worker to quit once its current run returns, and stops waiting for it: ORT cannot be
   * interrupted inside session.run, and terminate() during a run aborts the process when the run returns.
   */
  private retire(w: Worker): void {
    this.draining.set(w, this.affinity?.tid ?? -1);
    w.unref();
    w.postMessage({ type: 'quit' } satisfies ToWorker);
  }

  /**
   * Stops the worker(s): each quits as soon as it is between runs. Resolves when all have exited, or
   * after `timeoutMs` with the thread ids still inside an ORT run (a stalled run; the process cannot exit
   * cleanly until it returns — see docs/performance.md).
   */
  async stop(timeoutMs = 2000): Promise<{ stuckThreads: number[] }> {
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
    if (w) this.retire(w);
    const all = [...this.draining.keys()];
    const exited = all.map((x) => new Promise<void>((r) => (x.threadId === -1 ? r() : x.once('exit', () => r()))));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(exited),
      new Promise<void>((r) => {
        timer = setTimeout(r, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return { stuckThreads: [...this.draining.values()] };
  }
}
