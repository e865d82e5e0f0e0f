import type { Config } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/registry.js';
import { startReporting, type Reporting } from '../metrics/reporting.js';
import { LiveFeed } from '../live/live-feed.js';
import { imageForViewer, PrivacyWithheldError } from '../live/viewer-image.js';
import { LatencyHistory } from '../live/latency-history.js';
import { buildStatus, type StatusSources } from '../live/status.js';
import { startHttpServer } from '../live/server.js';
import type { ResultPublisher } from '../publish/result-publisher.js';
import type { Component } from './component.js';

export interface ReportingDeps {
  config: () => Config;
  metrics: Metrics;
  log: Logger;
  /** the HTTP bearer token (read before the model load), null for loopback only */
  token: () => string | null;
  /** logs a repeated line at most every 10 s (the event table's throttle) */
  throttle: (key: string, log: (suppressed: number) => void) => void;
  publishStats: (payload: { v: number }) => void;
  /** privacy applies to every image that leaves the device, the live view's too */
  privacySources: ResultPublisher['privacySources'];
  /** the live view's /api/status, but for the feed and history this component owns */
  status: () => Omit<StatusSources, 'feed' | 'history' | 'metrics' | 'config'>;
  /** told the bound port of /metrics (Home Assistant's device page links to it) */
  onHttpPort: (port: number | undefined) => void;
}

/** Metrics reporting (stats topic, log line) and, with metrics.http.enabled, the HTTP server with the live view. */
export class ReportingComponent implements Component {
  readonly name = 'metrics and HTTP';
  live: LiveFeed | null = null;
  private history: LatencyHistory | null = null;
  private reporting: Reporting | null = null;

  constructor(private readonly deps: ReportingDeps) {}

  async start(): Promise<void> {
    const { config, metrics, log } = this.deps;
    const http = config().metrics.http;
    const token = this.deps.token();
    if (http.enabled) {
      this.live = new LiveFeed({
        fps: http.live_fps,
        maxViewers: http.max_viewers,
        encode: (r) => {
          const src = this.deps.privacySources(r);
          return imageForViewer(r, 75, { options: config().privacy, sources: { at: r.capturedAt, mask: src.mask, boxes: src.privacyBoxes } });
        },
        onError: (e) => {
          // privacy could not obscure the frame: the viewers keep the previous image; counted, logged at most every 10 s
          if (e instanceof PrivacyWithheldError) {
            metrics.inc('images_withheld');
            this.deps.throttle('live-withheld', (n) =>
              log.warn({ err: e.message, ...(n ? { similar_since_last: n } : {}) }, 'live view: frame withheld'),
            );
            return;
          }
          log.warn({ err: e.message }, 'live view: encoding a frame failed');
        },
      });
      this.history = new LatencyHistory(metrics);
      this.history.start();
    }
    this.reporting = await startReporting({
      metrics,
      config: config().metrics,
      publishStats: this.deps.publishStats,
      logger: log,
      startHttp: (registry) =>
        startHttpServer({
          port: http.port,
          bind: http.bind,
          token,
          registry,
          feed: this.live!,
          status: () => buildStatus({ ...this.deps.status(), config, metrics, feed: this.live!, history: this.history! }),
        }),
    });
    if (this.live && this.reporting.httpPort !== undefined) {
      const host = http.bind.includes(':') ? `[${http.bind}]` : http.bind === '0.0.0.0' || http.bind === '::' ? '127.0.0.1' : http.bind;
      const url = `http://${host}:${this.reporting.httpPort}/`;
      log.info({ url, auth: token ? 'token' : 'loopback only' }, `live view on ${url}`);
    }
    this.deps.onHttpPort(this.reporting.httpPort);
  }

  async stop(): Promise<void> {
    this.history?.stop();
    this.live?.stop();
    await this.reporting?.stop();
  }
}
