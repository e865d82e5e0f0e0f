import type { Registry } from 'prom-client';
import type { Logger } from '../logging/logger.js';
import type { Config } from '../config/types.js';
import { formatStatsLine } from './log-line.js';
import { createPrometheusExporter, startMetricsServer, type MetricsServer } from './prometheus.js';
import type { Metrics } from './registry.js';
import type { StatsPayload } from './stats-schema.js';

export interface ReportingOptions {
  metrics: Metrics;
  /** the metrics section (the live view's http keys are the daemon's business) */
  config: Omit<Config['metrics'], 'http'> & { http: Pick<Config['metrics']['http'], 'enabled' | 'bind' | 'port'> };
  /** called every stats_interval_s with the payload for `<base>/<device>/stats` */
  publishStats?: (payload: StatsPayload) => void;
  logger?: Logger;
  /** serves the registry when metrics.http.enabled; default startMetricsServer (the daemon adds the live view) */
  startHttp?: (registry: Registry) => Promise<MetricsServer>;
}

export interface Reporting {
  /** bound port of the Prometheus endpoint, when enabled */
  httpPort: number | undefined;
  stop(): Promise<void>;
}

/**
 * The daemon's side of metrics in one call: starts the registry's samplers, the periodic stats
 * payload, the periodic log line and (if enabled) the Prometheus endpoint. `stop()` undoes all of it.
 */
export async function startReporting(opts: ReportingOptions): Promise<Reporting> {
  const { metrics, config, logger } = opts;
  const timers: NodeJS.Timeout[] = [];
  let server: MetricsServer | undefined;
  let exporter: ReturnType<typeof createPrometheusExporter> | undefined;

  metrics.start();
  const board = await metrics.refreshBoard();
  if (board && board.problems.length) logger?.debug({ problems: board.problems }, 'board health partly unavailable');

  if (config.http.enabled) {
    exporter = createPrometheusExporter(metrics);
    try {
      server = opts.startHttp
        ? await opts.startHttp(exporter.registry)
        : await startMetricsServer({ registry: exporter.registry, port: config.http.port, bind: config.http.bind });
    } catch (e) {
      exporter.detach();
      metrics.stop();
      throw e;
    }
    logger?.info({ bind: config.http.bind, port: server.port }, `Prometheus metrics on http://${config.http.bind}:${server.port}/metrics`);
  }

  if (opts.publishStats) {
    const publish = opts.publishStats;
    timers.push(
      setInterval(() => {
        try {
          publish(metrics.snapshot());
        } catch (e) {
          logger?.warn({ err: e }, 'stats publish failed');
        }
      }, config.stats_interval_s * 1000),
    );
  }
  if (config.log_interval_s > 0 && logger) {
    timers.push(setInterval(() => logger.info({ stats: true }, formatStatsLine(metrics.snapshot())), config.log_interval_s * 1000));
  }
  for (const t of timers) t.unref();

  return {
    httpPort: server?.port,
    async stop() {
      for (const t of timers) clearInterval(t);
      exporter?.detach();
      await server?.close();
      metrics.stop();
    },
  };
}
