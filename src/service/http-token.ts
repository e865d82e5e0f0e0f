import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { LoadedConfig } from '../config/types.js';
import { ConfigError } from '../config/errors.js';
import { HTTP_TOKEN_ENV } from '../config/cross-checks.js';
import { MIN_TOKEN_LENGTH } from '../live/http-guard.js';

/** The HTTP token: EDGESIGHT_HTTP_TOKEN, else metrics.http.token_file; null when neither is set (loopback only, checked by the loader). */
export function readHttpToken(lc: LoadedConfig, env: NodeJS.ProcessEnv, log: Logger): string | null {
  const http = lc.config.metrics.http;
  const problem = (message: string): ConfigError => {
    const err = new ConfigError(lc.file, [{ path: 'metrics.http.token_file', message }]);
    err.message = err.format();
    return err;
  };
  let token: string | undefined = env[HTTP_TOKEN_ENV];
  let from = HTTP_TOKEN_ENV;
  if (token === undefined && http.token_file) {
    const file = path.resolve(lc.dir, http.token_file);
    from = file;
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw problem(`${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    try {
      const mode = statSync(file).mode;
      if (mode & 0o004)
        log.warn(
          { file, mode: (mode & 0o777).toString(8) },
          'metrics.http.token_file is readable by every user: chmod 600 it (or 640 with the service group)',
        );
    } catch {
      // read a moment ago
    }
  }
  if (token === undefined) return null;
  token = token.trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw problem(`the token from ${from} must be at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 24)`);
  }
  return token;
}

/** Secrets in files every user can read: warned about at start (the config's mqtt.password, mqtt.password_file). */
export function warnIfSecretsReadable(lc: LoadedConfig, env: NodeJS.ProcessEnv, log: Logger): void {
  const m = lc.config.mqtt;
  const worldReadable = (file: string): string | null => {
    try {
      const mode = statSync(file).mode;
      return mode & 0o004 ? (mode & 0o777).toString(8) : null;
    } catch {
      return null; // read a moment ago (config) or reported when read (password_file)
    }
  };
  // a password from EDGESIGHT__MQTT__PASSWORD is not in the file
  if (lc.file && m.password && env.EDGESIGHT__MQTT__PASSWORD === undefined) {
    const mode = worldReadable(lc.file);
    if (mode)
      log.warn({ file: lc.file, mode }, 'the config file holds mqtt.password and is readable by every user: chmod 640 it, or use mqtt.password_file');
  }
  if (m.password_file) {
    const file = path.resolve(lc.dir, m.password_file);
    const mode = worldReadable(file);
    if (mode) log.warn({ file, mode }, 'mqtt.password_file is readable by every user: chmod 600 it (or 640 with the service group)');
  }
}
