export { nowMs, fromPerfNow, stageDurations, STAGES, STAGE_DEFINITIONS, type FrameTimings, type Stage, type StageDurations } from './timing.js';
export { LatencyWindow, RateWindow, type WindowOptions, type WindowSummary } from './window.js';
export { Metrics, type MetricsOptions, type MetricsListener } from './registry.js';
export { STATS_SCHEMA, COUNTERS, DERIVED_COUNTERS, type CounterName, type AnyCounterName, type StatsPayload } from './stats-schema.js';
export { EventLoopDelay } from './eventloop.js';
export { BoardMonitor, decodeThrottled, parseThrottled, type BoardHealth, type BoardOptions, type ThrottleFlags } from './board.js';
export { createPrometheusExporter, startMetricsServer, STAGE_BUCKETS_S, type PrometheusExporter, type MetricsServer, type MetricsServerOptions } from './prometheus.js';
export { formatStatsLine } from './log-line.js';
export { statsCommand, statsTopic, parseStats, renderTable, type StatsCommandOptions } from './stats-cli.js';
