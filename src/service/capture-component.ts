import path from 'node:path';
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { LoadedConfig } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import { createFrameSource, waitForCameraChildren } from '../capture/source.js';
import type { CameraConfig } from '../capture/config.js';
import type { Frame, SourceEvent } from '../capture/frame.js';
import type { CaptureHooks } from '../capture/hooks.js';
import type { InferenceEngine } from '../inference/engine.js';
import { runPipeline, type FrameResult, type PipelineEvent } from '../pipeline/pipeline.js';
import type { Component, StopBudget } from './component.js';
import type { ConfiguredModels } from './inference-components.js';

/** Where frames come from: the configured camera, or (in-process tests) any observable of frames. */
export type FrameSourceFactory = (camera: CameraConfig, hooks: CaptureHooks) => Observable<Frame>;

export interface CaptureDeps {
  lc: () => LoadedConfig;
  log: Logger;
  engine: () => InferenceEngine;
  models: () => ConfiguredModels;
  frames: FrameSourceFactory;
  onSourceEvent: (ev: SourceEvent) => void;
  onPipelineEvent: (ev: PipelineEvent) => void;
  onResult: (r: FrameResult) => void;
  /** the frame source failed for good (the pipeline has stopped) */
  onFailure: (e: Error) => void;
}

/** Capture and the frame pipeline: last to start, first to stop. One teardown path: `stop$`. */
export class CaptureComponent implements Component {
  readonly name = 'capture';
  private readonly stop$ = new Subject<void>();
  private sub: Subscription | null = null;

  constructor(private readonly deps: CaptureDeps) {}

  /** relative files paths resolve against the config file's folder */
  private cameraConfig(): CameraConfig {
    const { config, dir } = this.deps.lc();
    const c = config.camera;
    const files = { ...c.files, ...(c.files.path ? { path: path.resolve(dir, c.files.path) } : {}) };
    return { ...c, files };
  }

  async start(): Promise<void> {
    const { log, models } = this.deps;
    const frames$ = this.deps.frames(this.cameraConfig(), { onEvent: this.deps.onSourceEvent, log });
    const { detector, segmenter } = models();
    const deps = { engine: this.deps.engine(), detector, segmenter, config: () => this.deps.lc().config, onEvent: this.deps.onPipelineEvent };
    this.sub = runPipeline(frames$, deps, this.stop$).subscribe({
      next: (r) => this.deps.onResult(r),
      error: (e: Error) => this.deps.onFailure(e),
      complete: () => log.info('frame source ended'),
    });
  }

  /** Stops capture and abandons the in-flight frame; waits for camera processes, leaving time for the parts after. */
  async stop(budget: StopBudget): Promise<void> {
    this.stop$.next();
    this.stop$.complete();
    this.sub?.unsubscribe();
    await Promise.race([waitForCameraChildren(), sleep(Math.max(0, budget.deadline - Date.now() - RESERVED_AFTER_CAPTURE_MS))]);
  }
}

/** what the MQTT flush and the inference worker's stop may take after capture has stopped */
const RESERVED_AFTER_CAPTURE_MS = 2000;

export const defaultFrameSource: FrameSourceFactory = (camera, hooks) => createFrameSource(camera, hooks);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
