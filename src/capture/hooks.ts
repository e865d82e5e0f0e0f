import type { SourceEvent } from './frame.js';

/** The subset of a pino logger the capture code uses (pino's Logger satisfies it). */
export interface CaptureLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface CaptureHooks {
  /** every source event, for metrics counters and status (`missing` → degraded) */
  onEvent?: (ev: SourceEvent) => void;
  log?: CaptureLog;
  /** pid of every child process started (diagnostics, tests) */
  onSpawn?: (pid: number) => void;
}
