import type { ConfigProblem } from './errors.js';
import type { Config } from './types.js';
import { polygonArea, selfIntersection } from '../places/geometry.js';

/**
 * Rules that span several keys, which JSON Schema cannot say. Checked by the loader, so `check-config`,
 * `run` and SIGHUP all refuse them the same way (exit 78 with the key path).
 */
export function crossFieldProblems(c: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
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
  for (const [name, z] of Object.entries(c.zones ?? {})) {
    const hit = selfIntersection(z.polygon);
    const n = z.polygon.length;
    if (hit) problems.push({ path: `zones.${name}.polygon`, message: `edges ${hit[0]}–${(hit[0] + 1) % n} and ${hit[1]}–${(hit[1] + 1) % n} cross: the polygon must not intersect itself` });
    else if (polygonArea(z.polygon) < 1e-6) problems.push({ path: `zones.${name}.polygon`, message: 'the polygon has no area (its points are on one line)' });
  }
  for (const [name, l] of Object.entries(c.lines ?? {})) {
    const [a, b] = l.points;
    if (a[0] === b[0] && a[1] === b[1]) problems.push({ path: `lines.${name}.points`, message: 'the two points are the same: a line needs two different points' });
  }
  return problems;
}
