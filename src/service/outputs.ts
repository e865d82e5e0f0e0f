import type { Logger } from '../logging/logger.js';
import type { Config } from '../config/types.js';
import type { FrameResult } from '../pipeline/pipeline.js';
import type { MqttPublisher } from '../mqtt/client.js';
import type { CameraTopics } from '../mqtt/topics.js';
import { detectionsPayload } from '../mqtt/payloads.js';
import { buildMaskPayload, MaskCadence, resizeNearest } from '../mqtt/mask-encoding.js';
import { ObjectTracker } from '../mqtt/tracker.js';
import { RateLimiter } from '../mqtt/rate-limit.js';
import { renderSnapshot } from '../mqtt/snapshot.js';
import { nowMs } from '../metrics/timing.js';
import { yuv420ToRgb } from '../preprocess/preprocess.js';

/**
 * Turns pipeline results into messages: per-frame detections (rate-limited), masks (every Nth / on
 * change), retained per-label counts and new/update/end events (hysteresis in ObjectTracker), and
 * snapshots on request. Rebuilt on SIGHUP with the new config; the publisher stays.
 */
export class ResultPublisher {
  private readonly detLimiter: RateLimiter;
  private readonly snapLimiter: RateLimiter;
  private readonly maskCadence: MaskCadence;
  readonly tracker: ObjectTracker;
  private latest: FrameResult | null = null;
  private latestMask: FrameResult['segmentation'] | null = null;
  snapshotsRefused = 0;
  private rendering = false;

  constructor(
    private readonly cfg: Config,
    private readonly topics: CameraTopics,
    private readonly publisher: MqttPublisher,
    private readonly log: Logger,
    /** told how many events were handed to MQTT (the reconciliation counts them) */
    private readonly onEvents: (n: number) => void = () => undefined,
  ) {
    this.detLimiter = new RateLimiter(cfg.mqtt.detections.max_rate_hz, undefined, 'mqtt.detections.max_rate_hz');
    this.snapLimiter = new RateLimiter(cfg.mqtt.snapshot.max_rate_hz, undefined, 'mqtt.snapshot.max_rate_hz');
    this.maskCadence = new MaskCadence({ every: cfg.masks.every, onChange: cfg.masks.on_change, minChangedFraction: 0 });
    this.tracker = new ObjectTracker({
      camera: cfg.camera.name,
      labels: cfg.objects.track,
      minDurationS: cfg.mqtt.events.min_duration_s,
      endAfterS: cfg.mqtt.events.end_after_s,
      updateIntervalS: cfg.mqtt.events.update_interval_s,
    });
  }

  /** Retained zero counts for every tracked label, so stale counts of a previous run are replaced. */
  publishInitialCounts(): void {
    for (const c of this.tracker.initialCounts()) this.publisher.publish(this.topics.objects(c.label), String(c.count), { retain: true, cls: 'latest' });
  }

  async onResult(r: FrameResult): Promise<void> {
    const cfg = this.cfg;
    this.latest = r;
    if (r.segmentation) this.latestMask = r.segmentation;
    const d = cfg.mqtt.detections;
    if (d.enabled && !(d.only_with_objects && r.detections.length === 0) && this.detLimiter.tryAcquire('detections')) {
      const payload = detectionsPayload(r, Date.now());
      this.publisher.publish(this.topics.detections, JSON.stringify(payload), { cls: 'stream' });
      r.timings.published = nowMs();
      if (cfg.logging.publish_frames) {
        this.log.info({ topic: this.topics.detections, frame_id: r.frameId, objects: payload.objects.map((o) => `${o.label} ${o.score.toFixed(2)}`) }, 'published detections');
      }
    }
    const { counts, events } = this.tracker.update(
      r.detections.map((x) => ({ label: x.label, score: x.score, box: x.box })),
      r.capturedAt,
    );
    for (const c of counts) this.publisher.publish(this.topics.objects(c.label), String(c.count), { retain: true, cls: 'latest' });
    for (const e of events) this.publisher.publish(this.topics.events, JSON.stringify(e), { cls: 'event' });
    if (events.length) this.onEvents(events.length);
    if (r.segmentation && cfg.masks.enabled) await this.publishMask(r);
  }

  private async publishMask(r: FrameResult): Promise<void> {
    const s = r.segmentation!;
    const w = this.cfg.masks.width ?? s.width;
    const h = this.cfg.masks.height ?? s.height;
    const map = w === s.width && h === s.height ? s.data : resizeNearest(s.data, s.width, s.height, w, h);
    if (!this.maskCadence.shouldPublish(map)) return;
    try {
      const payload = await buildMaskPayload({
        camera: this.cfg.camera.name, frameId: r.frameId, capturedAt: r.capturedAt, publishedAt: Date.now(), map, width: w, height: h,
        frameWidth: r.width, frameHeight: r.height, classes: s.classes, encoding: this.cfg.masks.encoding,
      });
      this.publisher.publish(this.topics.mask, JSON.stringify(payload), { cls: 'stream' });
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'mask encoding failed');
    }
  }

  /** `<camera>/snapshot/get`: the latest frame with its boxes and the latest mask, as a JPEG. */
  async onSnapshotRequest(): Promise<void> {
    if (!this.latest) {
      this.log.info('snapshot requested before the first processed frame; ignored');
      return;
    }
    // one render at a time whatever the rate limit (0 = unlimited): a flood cannot pile up JPEG encodes
    if (this.rendering || !this.snapLimiter.tryAcquire('snapshot')) {
      this.snapshotsRefused++;
      this.log.debug('snapshot request over mqtt.snapshot.max_rate_hz (or one is being made); ignored');
      return;
    }
    this.rendering = true;
    try {
      const jpeg = await renderFrameSnapshot(this.latest, this.latestMask ?? undefined, this.cfg.mqtt.snapshot.quality);
      this.publisher.publish(this.topics.snapshot, jpeg, { cls: 'none' });
    } finally {
      this.rendering = false;
    }
  }

  /** End open events cleanly on stop so subscribers see `end` rather than a dangling `new`. */
  finish(): void {
    const { counts, events } = this.tracker.endAll(Date.now());
    for (const c of counts) this.publisher.publish(this.topics.objects(c.label), String(c.count), { retain: true, cls: 'latest' });
    for (const e of events) this.publisher.publish(this.topics.events, JSON.stringify(e), { cls: 'event' });
    if (events.length) this.onEvents(events.length);
  }
}

export async function renderFrameSnapshot(r: FrameResult, mask: FrameResult['segmentation'] | undefined, quality: number): Promise<Buffer> {
  const f = r.frame;
  const image =
    f.kind === 'encoded'
      ? f.data
      : { data: f.format === 'rgb24' ? f.data : yuv420ToRgb(f.data, f.width, f.height, f.stride), width: f.width, height: f.height };
  return renderSnapshot({
    image,
    detections: r.detections.map((d) => ({ label: d.label, score: d.score, box: d.box })),
    mask: mask ? { map: mask.data, width: mask.width, height: mask.height, classes: mask.classes } : undefined,
    quality,
  });
}
