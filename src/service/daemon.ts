import path from 'node:path';
import { readFileSync } from 'node:fs';
import { Subject, type Subscription } from 'rxjs';
import type { Logger } from '../logging/logger.js';
import type { Config, LoadedConfig } from '../config/types.js';
import { redactConfig } from '../config/redact.js';
import { createFrameSource, waitForCameraChildren } from '../capture/source.js';
import type { CameraConfig } from '../capture/config.js';
import type { SourceEvent } from '../capture/frame.js';
import { InferenceEngine, type EngineEvent } from '../inference/engine.js';
import { resolveCore } from '../inference/affinity.js';
import { runPipeline, type FrameResult, type PipelineEvent } from '../pipeline/pipeline.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../mqtt/broker.js';
import { MqttPublisher, type ClientEvent } from '../mqtt/client.js';
import { topicsFor, type CameraTopics } from '../mqtt/topics.js';
import { detectionsPayload } from '../mqtt/payloads.js';
import { buildMaskPayload, MaskCadence, resizeNearest } from '../mqtt/mask-encoding.js';
import { nowMs } from '../metrics/timing.js';
import { loadConfiguredModels } from './models.js';
import { VERSION } from './version.js';
import type { LoadedModel } from '../models/store.js';

export interface DaemonCounters {
  frames_captured: number;
  frames_processed: number;
  frames_skipped: number;
  frames_corrupt: number;
  camera_restarts: number;
  camera_stalls: number;
  worker_restarts: number;
  inference_errors: number;
  mqtt_queue_drops: number;
  segmentations: number;
}

/**
 * The daemon: wires capture → pipeline → MQTT and owns start/stop order. The pipeline knows nothing
 * about MQTT; this subscribes the publisher to its results. One teardown path: `stop$`.
 */
export class Daemon {
  private readonly stop$ = new Subject<void>();
  private sub: Subscription | null = null;
  private engine: InferenceEngine | null = null;
  private publisher: MqttPublisher | null = null;
  private broker: EmbeddedBroker | null = null;
  private topics!: CameraTopics;
  private maskCadence!: MaskCadence;
  private lastDetPublish = 0;
  private models!: { detector: LoadedModel; segmenter: LoadedModel | null };
  readonly counters: DaemonCounters = {
    frames_captured: 0, frames_processed: 0, frames_skipped: 0, frames_corrupt: 0, camera_restarts: 0,
    camera_stalls: 0, worker_restarts: 0, inference_errors: 0, mqtt_queue_drops: 0, segmentations: 0,
  };
  status: 'starting' | 'running' | 'degraded' | 'stopping' = 'starting';

  constructor(
    private lc: LoadedConfig,
    private readonly log: Logger,
  ) {}

  get config(): Config {
    return this.lc.config;
  }

  async start(): Promise<void> {
    const cfg = this.config;
    this.topics = topicsFor(cfg.mqtt.base_topic, cfg.device.id, cfg.camera.name);
    this.maskCadence = new MaskCadence({ every: cfg.masks.every, onChange: cfg.masks.on_change });

    this.models = await loadConfiguredModels(this.lc, this.log);
    const { detector, segmenter } = this.models;
    this.log.info({ detector: detector.manifestPath, segmenter: segmenter?.manifestPath ?? null, precision: detector.manifest.precision }, 'models loaded');

    await this.startMqtt();

    const core = resolveCore(cfg.inference.core);
    this.engine = new InferenceEngine({
      init: {
        detector: { path: detector.file, inputName: detector.manifest.input.name, outputNames: [detector.manifest.detection!.outputs.scores, detector.manifest.detection!.outputs.boxes] },
        segmenter: segmenter ? { path: segmenter.file, inputName: segmenter.manifest.input.name, outputNames: [segmenter.manifest.segmentation!.outputs.logits] } : null,
        core,
        threads: cfg.inference.threads,
        spinning: cfg.inference.spinning,
      },
      stallTimeoutMs: cfg.inference.stall_timeout_s * 1000,
    });
    this.engine.on('event', (ev: EngineEvent) => this.onEngineEvent(ev));
    const affinity = await this.engine.start();
    if (affinity.error) throw new Error(`could not pin the inference thread to core ${core}: ${affinity.error}`);
    this.log.info({ core, tid: affinity.tid, cpus_allowed_list: affinity.allowed }, `inference thread ${affinity.tid} pinned to core ${affinity.allowed}`);

    const camera = this.cameraConfig();
    const frames$ = createFrameSource(camera, { onEvent: (ev) => this.onSourceEvent(ev), log: this.log });
    this.sub = runPipeline(frames$, { engine: this.engine, detector, segmenter, config: () => this.config, onEvent: (ev) => this.onPipelineEvent(ev) }, this.stop$).subscribe({
      next: (r) => void this.onResult(r),
      error: (e: Error) => {
        this.log.error({ err: e.message }, 'frame source failed');
        this.status = 'degraded';
      },
      complete: () => this.log.info('frame source ended'),
    });
    this.status = 'running';
    this.log.info({ camera: cfg.camera.name, source: cfg.camera.source, topics: this.topics.root }, 'edgesight running');
  }

  private cameraConfig(): CameraConfig {
    const c = this.config.camera;
    const files = { ...c.files, ...(c.files.path ? { path: path.resolve(this.lc.dir, c.files.path) } : {}) };
    return { ...c, files };
  }

  private async startMqtt(): Promise<void> {
    const m = this.config.mqtt;
    let url = m.url;
    if (!url) {
      this.broker = await startEmbeddedBroker(m.embedded_broker.host, m.embedded_broker.port);
      url = this.broker.url;
      this.log.warn({ url }, `mqtt.url is not set: started an EMBEDDED broker on ${url} (demo mode; point mqtt.url at your broker for real use)`);
    }
    const password = m.password_file ? readFileSync(path.resolve(this.lc.dir, m.password_file), 'utf8').trim() : (m.password ?? undefined);
    const readPem = (f: string | null): Buffer | undefined => (f ? readFileSync(path.resolve(this.lc.dir, f)) : undefined);
    this.publisher = new MqttPublisher({
      url,
      clientId: m.client_id ?? `edgesight_${this.config.device.id}`,
      username: m.username ?? undefined,
      password,
      keepaliveS: m.keepalive_s,
      protocolVersion: this.broker ? 4 : m.protocol_version,
      reconnectMaxS: m.reconnect_max_s,
      qos: m.qos,
      queueSize: m.queue_size,
      will: { topic: this.topics.availability, payload: 'offline' },
      tls: m.ca || m.cert || m.key || url.startsWith('mqtts') ? { ca: readPem(m.ca), cert: readPem(m.cert), key: readPem(m.key), rejectUnauthorized: m.reject_unauthorized } : undefined,
      onConnect: () => this.publishState(),
    });
    this.publisher.on('event', (ev: ClientEvent) => {
      if (ev.type === 'connected') this.log.info({ url: redactUrl(url!), reconnect: ev.reconnect }, 'connected to MQTT broker');
      else if (ev.type === 'disconnected' && this.status !== 'stopping') this.log.warn({ url: redactUrl(url!) }, 'MQTT connection lost; retrying');
      else if (ev.type === 'error') this.log.error({ err: ev.message }, 'MQTT error');
      else if (ev.type === 'drop') this.counters.mqtt_queue_drops++;
    });
  }

  private publishState(): void {
    const p = this.publisher!;
    p.publish(this.topics.availability, 'online', { retain: true, cls: 'state' });
    const { detector, segmenter } = this.models;
    const info = {
      v: 1,
      version: VERSION,
      device: this.config.device,
      camera: { name: this.config.camera.name, source: this.config.camera.source, width: this.config.camera.width, height: this.config.camera.height, fps: this.config.camera.fps },
      models: {
        detector: { name: detector.manifest.name, precision: detector.manifest.precision, sha256: detector.manifest.sha256 },
        segmenter: segmenter ? { name: segmenter.manifest.name, precision: segmenter.manifest.precision, sha256: segmenter.manifest.sha256, classes: segmenter.manifest.labels } : null,
      },
      inference: { core: this.engine?.affinity?.allowed ?? null },
      started_at: Date.now(),
      config: redactConfig(this.config),
    };
    p.publish(this.topics.info, JSON.stringify(info), { retain: true, cls: 'state' });
  }

  private async onResult(r: FrameResult): Promise<void> {
    this.counters.frames_processed++;
    const cfg = this.config;
    const p = this.publisher!;
    const now = Date.now();
    const d = cfg.mqtt.detections;
    const minGap = d.max_rate_hz > 0 ? 1000 / d.max_rate_hz : 0;
    if (d.enabled && now - this.lastDetPublish >= minGap && !(d.only_with_objects && r.detections.length === 0)) {
      this.lastDetPublish = now;
      const payload = detectionsPayload(r, now);
      p.publish(this.topics.detections, JSON.stringify(payload), { cls: 'stream' });
      r.timings.published = nowMs();
      if (cfg.logging.publish_frames) {
        this.log.info({ topic: this.topics.detections, frame_id: r.frameId, objects: payload.objects.map((o) => `${o.label} ${o.score.toFixed(2)}`) }, 'published detections');
      }
    }
    if (r.segmentation) {
      this.counters.segmentations++;
      if (cfg.masks.enabled) {
        const s = r.segmentation;
        const w = cfg.masks.width ?? s.width;
        const h = cfg.masks.height ?? s.height;
        const map = w === s.width && h === s.height ? s.data : resizeNearest(s.data, s.width, s.height, w, h);
        if (this.maskCadence.shouldPublish(map)) {
          try {
            const payload = await buildMaskPayload({
              camera: cfg.camera.name, frameId: r.frameId, capturedAt: r.capturedAt, publishedAt: Date.now(), map, width: w, height: h,
              frameWidth: r.width, frameHeight: r.height, classes: s.classes, encoding: cfg.masks.encoding,
            });
            p.publish(this.topics.mask, JSON.stringify(payload), { cls: 'stream' });
          } catch (e) {
            this.log.error({ err: (e as Error).message }, 'mask encoding failed');
          }
        }
      }
    }
  }

  private onPipelineEvent(ev: PipelineEvent): void {
    switch (ev.type) {
      case 'captured':
        this.counters.frames_captured++;
        return;
      case 'skipped':
        this.counters.frames_skipped++;
        return;
      case 'corrupt':
        this.counters.frames_corrupt++;
        this.log.warn({ reason: ev.reason }, 'corrupt frame skipped');
        return;
      case 'inference-error':
        this.counters.inference_errors++;
        this.log.error({ reason: ev.reason }, 'inference failed for a frame');
        return;
    }
  }

  private onSourceEvent(ev: SourceEvent): void {
    switch (ev.type) {
      case 'restart':
        this.counters.camera_restarts++;
        this.log.warn({ ...ev }, 'camera restart');
        return;
      case 'stall':
        this.counters.camera_stalls++;
        this.log.warn({ ...ev }, 'camera stalled');
        return;
      case 'corrupt':
        this.counters.frames_corrupt++;
        this.log.warn({ reason: ev.reason }, 'corrupt frame from camera');
        return;
      case 'missing':
        this.status = 'degraded';
        return;
      case 'started':
        if (this.status === 'degraded') this.status = 'running';
        this.log.info({ detail: ev.detail }, 'camera started');
        return;
      case 'stderr':
        this.log.debug({ line: ev.line }, 'camera stderr');
        return;
    }
  }

  private onEngineEvent(ev: EngineEvent): void {
    switch (ev.type) {
      case 'restart':
        this.counters.worker_restarts++;
        this.log.error({ attempt: ev.attempt, delay_ms: ev.delayMs, reason: ev.reason }, 'inference worker restarting');
        return;
      case 'stall':
        this.log.error({ after_ms: ev.afterMs }, 'inference stalled');
        return;
      case 'crash':
        this.log.error({ reason: ev.message }, 'inference worker crashed');
        return;
      case 'ready':
        if (ev.restart > 0) this.log.info({ restart: ev.restart, cpus_allowed_list: ev.affinity.allowed }, 'inference worker back');
        return;
      case 'run-error':
        return;
    }
  }

  /** Stop capture, let the in-flight frame go, publish `offline`, flush MQTT — bounded by `timeoutMs`. */
  async stop(timeoutMs = 4000): Promise<void> {
    if (this.status === 'stopping') return;
    this.status = 'stopping';
    const deadline = Date.now() + timeoutMs;
    this.stop$.next();
    this.stop$.complete();
    this.sub?.unsubscribe();
    await this.engine?.stop();
    await Promise.race([waitForCameraChildren(), sleep(Math.max(0, deadline - Date.now() - 1500))]);
    await this.publisher?.close({ topic: this.topics.availability, payload: 'offline' }, Math.max(200, Math.min(1500, deadline - Date.now())));
    await this.broker?.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
