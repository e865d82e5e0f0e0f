import type { ConfigProblem } from './errors.js';
import type { Config } from './types.js';
import { labelProblems, type ModelVocabulary } from './label-checks.js';
import { polygonArea, selfIntersection } from '../places/geometry.js';
import { cocoLabelOf } from '../postprocess/voc-coco.js';

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
export function crossFieldProblems(
  c: Config,
  vocabulary?: ModelVocabulary,
  isSet?: (path: string) => boolean,
  env: NodeJS.ProcessEnv = process.env,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // label names against the configured models' label lists (the keys are listed in label-checks.ts)
  if (vocabulary) problems.push(...labelProblems(c, vocabulary, isSet));
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
      problems.push({
        path: 'mqtt.homeassistant.discovery_prefix',
        message: `must differ from mqtt.base_topic (both are ${JSON.stringify(base)}): Home Assistant would read edgesight's topics as discovery messages`,
      });
    } else if (within(prefix, base) || within(base, prefix)) {
      problems.push({
        path: 'mqtt.homeassistant.discovery_prefix',
        message: `${JSON.stringify(prefix)} and mqtt.base_topic ${JSON.stringify(base)} overlap: one must not contain the other`,
      });
    }
  }
  for (const [name, z] of Object.entries(c.zones ?? {})) {
    const hit = selfIntersection(z.polygon);
    const n = z.polygon.length;
    if (hit)
      problems.push({
        path: `zones.${name}.polygon`,
        message: `edges ${hit[0]}–${(hit[0] + 1) % n} and ${hit[1]}–${(hit[1] + 1) % n} cross: the polygon must not intersect itself`,
      });
    else if (polygonArea(z.polygon) < 1e-6)
      problems.push({ path: `zones.${name}.polygon`, message: 'the polygon has no area (its points are on one line)' });
  }
  for (const [name, l] of Object.entries(c.lines ?? {})) {
    const [a, b] = l.points;
    if (a[0] === b[0] && a[1] === b[1])
      problems.push({ path: `lines.${name}.points`, message: 'the two points are the same: a line needs two different points' });
  }
  problems.push(...untrackedPlaceLabels(c));
  return problems;
}

/**
 * Zones, lines and privacy act on tracked objects: a label outside objects.track would never be counted, and
 * a privacy class falls back on its detector label's boxes when no fresh mask exists, so that label must be
 * tracked too. (Whether the names exist at all is checked against the models in label-checks.ts.)
 */
function untrackedPlaceLabels(c: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const tracked = new Set(c.objects.track);
  const check = (key: string, label: string): void => {
    if (!tracked.has(label)) problems.push({ path: key, message: `label ${JSON.stringify(label)} is not in objects.track, so it is never tracked` });
  };
  for (const [name, z] of Object.entries(c.zones ?? {})) z.labels.forEach((l, i) => check(`zones.${name}.labels.${i}`, l));
  for (const [name, l] of Object.entries(c.lines ?? {})) l.labels.forEach((x, i) => check(`lines.${name}.labels.${i}`, x));
  (c.privacy?.classes ?? []).forEach((cls, i) => {
    const key = `privacy.classes.${i}`;
    const label = cocoLabelOf(cls);
    if (label === undefined)
      problems.push({ path: key, message: `class ${JSON.stringify(cls)} has no detector label to fall back on when no fresh mask is available` });
    else if (!tracked.has(label))
      problems.push({
        path: key,
        message: `class ${JSON.stringify(cls)} falls back on the boxes of detector label ${JSON.stringify(label)}, which must be in objects.track`,
      });
  });
  return problems;
}
