import type { ConfigProblem } from './errors.js';
import type { Config } from './types.js';
import { labelProblems, type ModelVocabulary } from './label-checks.js';

/**
 * Rules that span several keys, which JSON Schema cannot say. Checked by the loader, so `check-config`,
 * `run` and SIGHUP all refuse them the same way (exit 78 with the key path).
 */
export function crossFieldProblems(c: Config, vocabulary?: ModelVocabulary, isSet?: (path: string) => boolean): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // label names against the configured models' label lists (the keys are listed in label-checks.ts)
  if (vocabulary) problems.push(...labelProblems(c, vocabulary, isSet));
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
