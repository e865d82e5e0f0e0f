import { ConfigError, EX_CONFIG } from '../config/errors.js';
import { ModelError } from '../models/manifest.js';

/**
 * sysexits.h codes, the statuses systemd and scripts understand. The unit's RestartPreventExitStatus
 * lists the ones a restart cannot fix (78, 66); 69 is retried, as the port may be freed.
 */
export const EX_OK = 0;
export const EX_USAGE = 64;
/** a model file cannot be read, is truncated or does not match its manifest */
export const EX_NOINPUT = 66;
/** a port the daemon must listen on is taken or not allowed */
export const EX_UNAVAILABLE = 69;
export { EX_CONFIG };

/** The exit status for a failure before READY. */
export function exitCodeFor(e: unknown): number {
  if (e instanceof ConfigError) return EX_CONFIG;
  if (e instanceof ModelError) return EX_NOINPUT;
  const { code, syscall } = (e ?? {}) as { code?: unknown; syscall?: unknown };
  if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || (code === 'EACCES' && syscall === 'listen')) return EX_UNAVAILABLE;
  return 1;
}

/** All codes with their meaning, for --help and the docs. */
export const EXIT_CODES: ReadonlyArray<[number, string]> = [
  [EX_OK, 'success (run: stopped by SIGTERM/SIGINT)'],
  [1, 'an unexpected error'],
  [EX_USAGE, 'unknown command or option, or a bad option value'],
  [EX_NOINPUT, 'a model file is missing, unreadable, truncated or does not match its manifest'],
  [EX_UNAVAILABLE, 'a port is taken (embedded MQTT broker, metrics endpoint)'],
  [EX_CONFIG, 'the configuration is invalid (every problem with its key path and line)'],
];
