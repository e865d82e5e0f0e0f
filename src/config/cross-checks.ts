import type { ConfigProblem } from './errors.js';
import type { Config } from './types.js';

/** The environment variable that holds the HTTP bearer token (instead of metrics.http.token_file). */
export const HTTP_TOKEN_ENV = 'EDGESIGHT_HTTP_TOKEN';

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopbackHost(bind: string): boolean {
  const h = bind.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

/**
 * Rules that span several keys, which JSON Schema cannot say. Checked by the loader, so `check-config`,
 * `run` and SIGHUP all refuse them the same way (exit 78 with the key path).
 */
export function crossFieldProblems(c: Config, env: NodeJS.ProcessEnv = process.env): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const http = c.metrics.http;
  // the live view shows the camera: off loopback, nobody may see it without the token
  if (http.enabled && !isLoopbackHost(http.bind) && !http.token_file && !env[HTTP_TOKEN_ENV]) {
    problems.push({
      path: 'metrics.http.bind',
      message: `${JSON.stringify(http.bind)} is not a loopback address: the live view and /metrics would be open to the network; set metrics.http.token_file (or ${HTTP_TOKEN_ENV}), or bind 127.0.0.1`,
    });
  }
  const ha = c.mqtt.homeassistant;
  if (ha.enabled) {
    const prefix = ha.discovery_prefix;
    const base = c.mqtt.base_topic;
    const within = (a: string, b: string): boolean => a === b || a.startsWith(b + '/');
    if (prefix === base) {
      problems.push({ path: 'mqtt.homeassistant.discovery_prefix', message: `must differ from mqtt.base_topic (both are ${JSON.stringify(base)}): Home Assistant would read edgesight's topics as discovery messages` });
    } else if (within(prefix, base) || within(base, prefix)) {
      problems.push({ path: 'mqtt.homeassistant.discovery_prefix', message: `${JSON.stringify(prefix)} and mqtt.base_topic ${JSON.stringify(base)} overlap: one must not contain the other` });
    }
  }
  return problems;
}
