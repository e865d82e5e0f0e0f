import { Subject, type Observable, type Subscription } from 'rxjs';
import type { Frame } from '../capture/frame.js';
import type { CaptureHooks } from '../capture/hooks.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import { filesSource } from '../capture/files.js';
import type { InferenceEngine } from '../inference/engine.js';
import { Metrics } from '../metrics/registry.js';
import { nowMs, STAGES, type Stage } from '../metrics/timing.js';
import type { WindowSummary } from '../metrics/window.js';
import type { LoadedModel } from '../models/store.js';
import type { MqttPublisher } from '../mqtt/client.js';
import type { CameraTopics } from '../mqtt/topics.js';
import { runPipeline, type FrameResult } from '../pipeline/pipeline.js';
import { ResultPublisher } from '../publish/result-publisher.js';
import { round, summarize, type SampleSummary } from './sample-stats.js';

export interface PipelineRunOptions {
  engine: InferenceEngine;
  detector: LoadedModel;
  segmenter: LoadedModel | null;
  /** the daemon config the pipeline and publisher read (segmentation.every decides the mix) */
  config: Config;
  framesDir: string;
  /** another frame source instead of the files source (e.g. a camera's raw path); framesDir is then unused */
  source?: (hooks: CaptureHooks) => Observable<Frame>;
  /** files-source rate; above what inference can take, so drop-if-busy decides (as with a fast camera) */
  sourceFps: number;
  /** measured frames (after warm-up) */
  frames: number;
  warmup: number;
  publisher: MqttPublisher;
  topics: CameraTopics;
  log: Logger;
  /** sample RSS every this many measured frames (soak) */
  rssEvery?: number;
  /** every result, as the daemon hands it to the live view */
  onResult?: (r: FrameResult) => void;
  /** give up when no result arrives for this long; default 60 s */
  idleTimeoutMs?: number;
}

export interface RssSample {
  frames: number;
  seconds: number;
  rss_mb: number;
  heap_used_mb: number;
}

export interface StageStats extends SampleSummary {
  /** the same stage as the daemon's stats topic reports it (Metrics' HDR window, ≤ 1 % high) */
  metrics_p50: number | null;
  metrics_p99: number | null;
}

export interface PipelineRunResult {
  frames: number;
  seconds: number;
  fps: number;
  captured: number;
  skipped: number;
  corrupt: number;
  inference_errors: number;
  segmentations: number;
  published: number;
  /** share of the measured wall time the worker spent inside session.run */
  worker_busy_fraction: number;
  stages: Partial<Record<Stage, StageStats>>;
  /** every measured duration per stage (ms), for the chart */
  samples: Partial<Record<Stage, number[]>>;
  rss: RssSample[];
}

const MIB = 1024 * 1024;

/**
 * The daemon's frame path, measured: files source → runPipeline (preprocess off the pinned core →
 * pinned inference worker → post-process) → ResultPublisher → MQTT. The first `warmup` results are
 * published but not measured; timing runs from the warm-up's last result to the `frames`-th after it.
 */
export function runPipelineBench(o: PipelineRunOptions): Promise<PipelineRunResult> {
  const metrics = new Metrics({ device: 'bench', windowS: 86_400, board: false });
  const samples: Partial<Record<Stage, number[]>> = {};
  metrics.subscribe({
    frame(d) {
      for (const s of STAGES) {
        const v = d[s];
        if (v !== undefined) (samples[s] ??= []).push(v);
      }
    },
  });
  const outputs = new ResultPublisher(o.config, o.topics, o.publisher, o.log);
  const stop$ = new Subject<void>();
  const rss: RssSample[] = [];
  let measuring = false;
  let seen = 0;
  let measured = 0;
  let busyMs = 0;
  let t0 = 0;
  let tEnd = 0;
  let published = 0;

  if (!Number.isInteger(o.warmup) || o.warmup < 1) throw new RangeError(`warmup must be an integer ≥ 1, got ${o.warmup}`);
  if (!Number.isInteger(o.frames) || o.frames < 1) throw new RangeError(`frames must be an integer ≥ 1, got ${o.frames}`);
  return new Promise<PipelineRunResult>((resolve, reject) => {
    let lastResultAt = nowMs();
    let settled = false;
    const idleMs = o.idleTimeoutMs ?? 60_000;
    const watchdog = setInterval(() => {
      if (nowMs() - lastResultAt > idleMs) {
        fail(
          new Error(
            `no pipeline result for ${idleMs / 1000} s (corrupt frames ${metrics.total('frames_corrupt')}, inference errors ${metrics.total('inference_errors')})`,
          ),
        );
      }
    }, 1000);
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      stop$.next();
      // a source that fails on subscribe calls this before `sub` is assigned
      queueMicrotask(() => sub?.unsubscribe());
      reject(e);
    };

    const pending = new Set<Promise<void>>();
    const handle = (r: FrameResult, counted: boolean): void => {
      const p = outputs.onResult(r).then(() => {
        if (!counted) return;
        if (r.timings.published !== undefined) published++;
        metrics.recordFrame(r.timings);
      });
      pending.add(p);
      p.then(
        () => pending.delete(p),
        (e: Error) => fail(new Error(`publishing a result failed: ${e.message}`)),
      );
    };

    const hooks: CaptureHooks = { onEvent: (ev) => ev.type === 'corrupt' && measuring && metrics.inc('frames_corrupt') };
    const frames$ = o.source ? o.source(hooks) : filesSource({ path: o.framesDir, loop: true, fps: o.sourceFps }, hooks);
    let sub: Subscription | undefined;
    sub = runPipeline(
      frames$,
      {
        engine: o.engine,
        detector: o.detector,
        segmenter: o.segmenter,
        config: () => o.config,
        onEvent: (ev) => {
          if (!measuring) return;
          if (ev.type === 'captured') metrics.inc('frames_captured');
          else if (ev.type === 'skipped') metrics.inc('frames_skipped');
          else if (ev.type === 'corrupt') metrics.inc('frames_corrupt');
          else metrics.inc('inference_errors');
        },
      },
      stop$,
    ).subscribe({
      next: (r) => {
        o.onResult?.(r);
        lastResultAt = nowMs();
        seen++;
        if (!measuring || measured >= o.frames) {
          if (!measuring && seen === o.warmup) {
            measuring = true;
            t0 = lastResultAt;
          }
          return handle(r, false);
        }
        measured++;
        const t = r.timings;
        const starts = [t.detStart, t.segStart].filter((x): x is number => x !== undefined);
        const ends = [t.detEnd, t.segEnd].filter((x): x is number => x !== undefined);
        if (starts.length && ends.length) busyMs += Math.max(...ends) - Math.min(...starts);
        if (o.rssEvery && measured % o.rssEvery === 0) {
          const m = process.memoryUsage();
          rss.push({
            frames: measured,
            seconds: round((lastResultAt - t0) / 1000, 2),
            rss_mb: round(m.rss / MIB, 1),
            heap_used_mb: round(m.heapUsed / MIB, 1),
          });
        }
        if (measured === o.frames) {
          tEnd = lastResultAt;
          stop$.next();
        }
        handle(r, true);
      },
      error: (e: Error) => fail(new Error(`frame source failed: ${e.message}`)),
      complete: () => {
        if (settled) return;
        if (measured < o.frames) return fail(new Error(`the pipeline ended after ${measured} of ${o.frames} measured frames`));
        // the last results' publishes finish before the counters are read
        void Promise.all([...pending]).then(() => {
          if (settled) return;
          settled = true;
          clearInterval(watchdog);
          resolve(summarizeRun());
        });
      },
    });

    const summarizeRun = (): PipelineRunResult => {
      const seconds = (tEnd - t0) / 1000;
      const stages: Partial<Record<Stage, StageStats>> = {};
      for (const s of STAGES) {
        const v = samples[s];
        if (!v?.length) continue;
        const w: WindowSummary = metrics.stage(s);
        stages[s] = { ...summarize(v), metrics_p50: w.p50 === null ? null : round(w.p50, 3), metrics_p99: w.p99 === null ? null : round(w.p99, 3) };
      }
      return {
        frames: measured,
        seconds: round(seconds, 3),
        fps: round(measured / seconds, 3),
        captured: metrics.total('frames_captured'),
        skipped: metrics.total('frames_skipped'),
        corrupt: metrics.total('frames_corrupt'),
        inference_errors: metrics.total('inference_errors'),
        segmentations: metrics.total('segmentations'),
        published,
        worker_busy_fraction: round(busyMs / (tEnd - t0), 3),
        stages,
        samples,
        rss,
      };
    };
  });
}
