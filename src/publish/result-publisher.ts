import path from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { Config } from '../config/types.js';
import type { FrameResult } from '../pipeline/pipeline.js';
import type { MqttPublisher } from '../mqtt/client.js';
import type { CameraTopics } from '../mqtt/topics.js';
import { detectionsPayload } from './detections-payload.js';
import { buildMaskPayload, MaskCadence, resizeNearest } from '../render/mask-encoding.js';
import { RateLimiter } from './rate-limit.js';
import { TopicSequence } from './topic-sequence.js';
import { renderSnapshot, type SnapshotOverlays } from '../render/snapshot-image.js';
import { nowMs } from '../metrics/timing.js';
import { yuv420ToRgb } from '../preprocess/preprocess.js';
import { ObjectsStage, coverageClasses } from '../objects/objects-stage.js';
import type { ObjectsOptions, StateChange } from '../objects/object-types.js';
import { LineStore, defaultStateDir } from '../places/line-store.js';
import { decodeRgb, obscureFrame, privacyEnabled, type PrivacyBox, type RgbImage } from '../privacy/obscure.js';

export interface OutputsOptions {
  /** segmenter class names by index (zone coverage); null without a segmenter */
  segmenterClasses: readonly string[] | null;
  /** where line totals persist; null keeps them in memory only */
  stateFile: string | null;
  /** told how many events were handed to MQTT (the reconciliation counts them) */
  onEvents?: (n: number) => void;
  /** told when a snapshot is not published because privacy could not obscure it (the images_withheld counter) */
  onWithheld?: () => void;
}

/** `<state_dir>/lines-<device>-<camera>.json`; state_dir defaults to systemd's StateDirectory or the XDG state dir. */
export function lineStateFile(cfg: Config, configDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = cfg.state_dir ? path.resolve(configDir, cfg.state_dir) : defaultStateDir(env);
  return path.join(dir, `lines-${cfg.device.id}-${cfg.camera.name}.json`);
}

export function objectsOptions(cfg: Config, segmenterClasses: readonly string[] | null): ObjectsOptions {
  return {
    camera: cfg.camera.name,
    labels: cfg.objects.track,
    minDurationS: cfg.mqtt.events.min_duration_s,
    endAfterS: cfg.mqtt.events.end_after_s,
    updateIntervalS: cfg.mqtt.events.update_interval_s,
    tracking: cfg.tracking,
    zones: cfg.zones,
    lines: cfg.lines,
    segmenterClasses,
  };
}

/**
 * Turns pipeline results into messages: per-frame detections with track ids (rate-limited), masks,
 * per-object events, retained per-label counts, zone occupancy/counts/coverage and line totals, and
 * privacy-masked snapshots on request. Lives as long as the daemon: a SIGHUP goes through `applyConfig`,
 * which keeps tracks, counts and totals.
 */
export class ResultPublisher {
  private cfg!: Config;
  private detLimiter!: RateLimiter;
  private snapLimiter!: RateLimiter;
  private maskCadence!: MaskCadence;
  readonly objects: ObjectsStage;
  private readonly lineStore: LineStore;
  readonly seq = new TopicSequence();
  private latest: FrameResult | null = null;
  private latestMask: FrameResult['segmentation'] | null = null;
  private latestMaskAt = 0;
  private readonly dayTimer: NodeJS.Timeout;
  snapshotsRefused = 0;
  /** snapshots not published because privacy is on and neither a fresh mask nor tracked boxes were there */
  privacyWithheld = 0;
  private rendering = false;

  constructor(
    cfg: Config,
    private readonly topics: CameraTopics,
    private readonly publisher: Pick<MqttPublisher, 'publish'>,
    private readonly log: Logger,
    private readonly opts: OutputsOptions = { segmenterClasses: null, stateFile: null },
  ) {
    this.lineStore = new LineStore(opts.stateFile);
    this.objects = new ObjectsStage(objectsOptions(cfg, opts.segmenterClasses), this.lineStore);
    this.setConfig(cfg);
    // without frames (the source ended or stalls) objects still end after end_after_s, and a daily line
    // reset is still due at local midnight
    this.dayTimer = setInterval(() => this.idle(Date.now()), 1000);
    this.dayTimer.unref();
  }

  private lastFrameAt = Date.now();

  private idle(now: number): void {
    if (now - this.lastFrameAt < this.cfg.mqtt.events.end_after_s * 1000 + 1000) {
      this.publishChanges(this.objects.tick(now));
      return;
    }
    // nothing seen for longer than end_after_s: an empty observation ends what has gone
    const out = this.objects.update({ at: now, detections: [] });
    this.publishChanges(out.state);
    this.publishEvents(out.events);
  }

  private setConfig(cfg: Config): void {
    this.cfg = cfg;
    this.detLimiter = new RateLimiter(cfg.mqtt.detections.max_rate_hz, undefined, 'mqtt.detections.max_rate_hz');
    this.snapLimiter = new RateLimiter(cfg.mqtt.snapshot.max_rate_hz, undefined, 'mqtt.snapshot.max_rate_hz');
    this.maskCadence = new MaskCadence({ every: cfg.masks.every, onChange: cfg.masks.on_change, minChangedFraction: 0 });
  }

  /** SIGHUP: new thresholds, zones, lines and privacy at once; tracks, counts and line totals carry on. */
  applyConfig(cfg: Config): void {
    const old = this.cfg;
    this.setConfig(cfg);
    const { state, removedZones, removedLines } = this.objects.applyConfig(objectsOptions(cfg, this.opts.segmenterClasses));
    this.lineStore.save();
    // a removed zone or line leaves no stale retained value behind (an empty retained message deletes it)
    const clear = { retain: true, cls: 'latest' as const };
    for (const z of removedZones) {
      const labels = old.zones[z]!.labels.length ? old.zones[z]!.labels : old.objects.track;
      const topics = [this.topics.zoneOccupied(z), ...labels.map((l) => this.topics.zoneCount(z, l))];
      if (this.opts.segmenterClasses)
        topics.push(...coverageClasses(labels, this.opts.segmenterClasses).map(([, c]) => this.topics.zoneCoverage(z, c)));
      for (const t of topics) this.publisher.publish(t, '', clear);
    }
    for (const l of removedLines) for (const d of ['in', 'out'] as const) this.publisher.publish(this.topics.lineCount(l, d), '', clear);
    this.publishChanges(state);
  }

  /** Every retained value as it is now (on connect, after a reload): counts are never reset to 0 here. */
  publishState(): void {
    this.publishChanges(this.objects.currentState(Date.now()));
  }

  private publishChanges(changes: readonly StateChange[]): void {
    const t = this.topics;
    const opt = { retain: true, cls: 'latest' as const };
    for (const c of changes) {
      switch (c.kind) {
        case 'count':
          this.publisher.publish(t.objects(c.label), String(c.value), opt);
          break;
        case 'zone-occupied':
          this.publisher.publish(t.zoneOccupied(c.zone), c.value ? 'ON' : 'OFF', opt);
          break;
        case 'zone-count':
          this.publisher.publish(t.zoneCount(c.zone, c.label), String(c.value), opt);
          break;
        case 'zone-coverage':
          this.publisher.publish(t.zoneCoverage(c.zone, c.cls), String(c.value), opt);
          break;
        case 'line':
          this.publisher.publish(t.lineCount(c.line, c.direction), String(c.value), opt);
          break;
      }
    }
    if (this.lineStore.writeError) {
      this.log.error({ err: this.lineStore.writeError }, 'line totals could not be saved (they are kept in memory)');
      this.lineStore.writeError = null;
    }
  }

  /** A JSON payload with its per-topic `seq`. */
  publishJson(topic: string, payload: { v: number }, opts: Parameters<MqttPublisher['publish']>[2]): void {
    this.publisher.publish(topic, JSON.stringify(this.seq.stamp(topic, payload)), opts);
  }

  async onResult(r: FrameResult): Promise<void> {
    const cfg = this.cfg;
    this.latest = r;
    this.lastFrameAt = Date.now();
    if (r.segmentation) {
      this.latestMask = r.segmentation;
      this.latestMaskAt = r.capturedAt;
    }
    // the tracker runs here, on the main thread, after post-processing
    const objects = this.objects.update({ at: r.capturedAt, detections: r.detections, low: r.lowDetections, segmentation: r.segmentation });
    const d = cfg.mqtt.detections;
    if (d.enabled && !(d.only_with_objects && r.detections.length === 0) && this.detLimiter.tryAcquire('detections')) {
      const payload = detectionsPayload(r, Date.now(), objects.detections);
      this.publishJson(this.topics.detections, payload, { cls: 'stream' });
      r.timings.published = nowMs();
      if (cfg.logging.publish_frames) {
        this.log.info(
          {
            topic: this.topics.detections,
            frame_id: r.frameId,
            objects: payload.objects.map((o) => `${o.label} ${o.score.toFixed(2)}${o.track_id ? ` #${o.track_id}` : ''}`),
          },
          'published detections',
        );
      }
    }
    this.publishChanges(objects.state);
    this.publishEvents(objects.events);
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
        camera: this.cfg.camera.name,
        frameId: r.frameId,
        capturedAt: r.capturedAt,
        publishedAt: Date.now(),
        map,
        width: w,
        height: h,
        frameWidth: r.width,
        frameHeight: r.height,
        classes: s.classes,
        encoding: this.cfg.masks.encoding,
      });
      this.publishJson(this.topics.mask, payload, { cls: 'stream' });
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'mask encoding failed');
    }
  }

  /** `<camera>/snapshot/get`: the latest frame, privacy-masked, with boxes, track ids, zones and lines, as a JPEG. */
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
      const r = this.latest;
      const out = await renderFrameSnapshot(r, this.cfg, {
        ...this.privacySources(r),
        overlays: this.overlays(Date.now()),
        trackIds: this.trackIdsOf(r),
      });
      if (!out.jpeg) {
        this.privacyWithheld++;
        this.opts.onWithheld?.();
        this.log.warn(
          { reason: out.reason, withheld_total: this.privacyWithheld },
          'snapshot withheld: privacy is on and the frame could not be masked',
        );
        return;
      }
      this.publisher.publish(this.topics.snapshot, out.jpeg, { cls: 'none' });
    } finally {
      this.rendering = false;
    }
  }

  private publishEvents(events: readonly { v: number }[]): void {
    for (const e of events) this.publishJson(this.topics.events, e, { cls: 'event' });
    if (events.length) this.opts.onEvents?.(events.length);
  }

  /**
   * What privacy obscures a frame with, for every image output (snapshot, live view): the latest mask and
   * the boxes of the tracked objects (a lost track keeps its last box: still obscured) and of every detection
   * of the frame, low-score and not yet confirmed ones included.
   */
  privacySources(r: FrameResult): Pick<SnapshotExtras, 'mask' | 'privacyBoxes'> {
    return {
      mask: this.latestMask ? { ...this.latestMask, at: this.latestMaskAt } : null,
      privacyBoxes: [...this.objects.tracks(), ...r.detections, ...(r.lowDetections ?? [])].map((t) => ({ label: t.label, box: t.box })),
    };
  }

  /** Confirmed tracks per label now (the retained `objects/<label>` values). */
  labelCounts(): ReadonlyMap<string, number> {
    return this.objects.labelCounts();
  }

  private trackIdsOf(r: FrameResult): Array<string | null> {
    const byBox = new Map(
      this.objects
        .tracks()
        .filter((t) => t.seen)
        .map((t) => [t.box.join(','), t.id]),
    );
    return r.detections.map((d) => byBox.get(d.box.join(',')) ?? null);
  }

  overlays(now: number): SnapshotOverlays {
    return {
      zones: Object.entries(this.cfg.zones).map(([name, z]) => ({ name, polygon: z.polygon, occupied: this.objects.zoneOccupied(name) })),
      lines: Object.entries(this.cfg.lines).map(([name, l]) => ({ name, points: l.points, ...this.objects.lineTotals(name, now) })),
    };
  }

  /** End open objects cleanly on stop so subscribers see `end` rather than a dangling `new`. */
  finish(): void {
    clearInterval(this.dayTimer);
    const { state, events } = this.objects.endAll(Date.now());
    this.publishChanges(state);
    this.publishEvents(events);
  }
}

export interface SnapshotExtras {
  /** the latest segmentation and the capture time of its frame */
  mask: (NonNullable<FrameResult['segmentation']> & { at: number }) | null;
  /** tracked boxes for the privacy fallback; null when there are none for this frame */
  privacyBoxes: readonly PrivacyBox[] | null;
  overlays?: SnapshotOverlays;
  /** per detection of the frame: its track id */
  trackIds?: ReadonlyArray<string | null>;
}

/**
 * The one path from a frame to a published image: decode, privacy (privacy/obscure.ts), then boxes, mask,
 * zones and lines drawn on top. `jpeg: null` when privacy is on and the frame cannot be masked.
 */
export async function renderFrameSnapshot(
  r: FrameResult,
  cfg: Config,
  extras: SnapshotExtras,
): Promise<{ jpeg: Buffer; reason?: undefined } | { jpeg: null; reason: string }> {
  const f = r.frame;
  let image: Buffer | RgbImage =
    f.kind === 'encoded'
      ? f.data
      : { data: f.format === 'rgb24' ? f.data : yuv420ToRgb(f.data, f.width, f.height, f.stride), width: f.width, height: f.height };
  if (privacyEnabled(cfg.privacy)) {
    const rgb = Buffer.isBuffer(image) ? await decodeRgb(image) : image;
    const res = await obscureFrame(rgb, cfg.privacy, { at: r.capturedAt, mask: extras.mask, boxes: extras.privacyBoxes });
    if (!res.image) return { jpeg: null, reason: res.reason };
    image = res.image;
  }
  const mask = extras.mask && r.capturedAt - extras.mask.at <= Math.max(cfg.privacy.max_mask_age_s, 1) * 1000 ? extras.mask : undefined;
  const jpeg = await renderSnapshot({
    image,
    detections: r.detections.map((d, i) => ({
      label: extras.trackIds?.[i] ? `${d.label} ${shortId(extras.trackIds[i]!)}` : d.label,
      score: d.score,
      box: d.box,
      colourKey: d.label,
    })),
    mask: mask ? { map: mask.data, width: mask.width, height: mask.height, classes: mask.classes } : undefined,
    overlays: extras.overlays,
    quality: cfg.mqtt.snapshot.quality,
  });
  return { jpeg };
}

/** `cam-1718000000000-12` → `#12` on the image: the full id is in the payloads. */
function shortId(id: string): string {
  return `#${id.slice(id.lastIndexOf('-') + 1)}`;
}
