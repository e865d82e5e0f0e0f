import assert from 'node:assert/strict';
import { configSchema, parseConfigText } from '../../src/config/load.js';
import { reloadKeys } from '../../src/config/reload-keys.js';
import type { JsonSchema } from '../../src/config/schema.js';
import { planReload, reloadClasses } from '../../src/service/reload.js';

const cfg = (yaml: string) => parseConfigText(yaml, null, { env: {} }).config;

/**
 * One change per key the schema marks live (neither `requiresRestart` nor `reconnects`). The test below
 * fails when a key is marked live without a line here, so a new key is never live by accident.
 */
const LIVE_CHANGES: Record<string, string> = {
  'detection.score_threshold': 'detection: { score_threshold: 0.7 }',
  'detection.nms_iou': 'detection: { nms_iou: 0.3 }',
  'detection.max_detections': 'detection: { max_detections: 7 }',
  'objects.track': 'objects: { track: [person] }',
  'objects.filters': 'objects: { filters: { person: { min_score: 0.8 } } }',
  'tracking.low_score': 'tracking: { low_score: 0.1 }',
  'tracking.min_hits': 'tracking: { min_hits: 5 }',
  'tracking.match_iou': 'tracking: { match_iou: 0.5 }',
  'tracking.stationary_threshold': 'tracking: { stationary_threshold: 0.05 }',
  'tracking.stationary_after_s': 'tracking: { stationary_after_s: 30 }',
  zones: 'zones: { door: { polygon: [[0, 0], [1, 0], [1, 1]] } }',
  lines: 'lines: { door: { points: [[0.5, 0], [0.5, 1]] } }',
  'privacy.classes': 'privacy: { classes: [person] }',
  'privacy.mode': 'privacy: { mode: fill }',
  'privacy.dilate_px': 'privacy: { dilate_px: 3 }',
  'privacy.max_mask_age_s': 'privacy: { max_mask_age_s: 2 }',
  'segmentation.every': 'segmentation: { every: 2 }',
  'masks.enabled': 'masks: { enabled: false }',
  'masks.width': 'masks: { width: 20 }',
  'masks.height': 'masks: { height: 15 }',
  'masks.every': 'masks: { every: 3 }',
  'masks.on_change': 'masks: { on_change: true }',
  'masks.encoding': 'masks: { encoding: rle }',
  'mqtt.detections.enabled': 'mqtt: { detections: { enabled: false } }',
  'mqtt.detections.max_rate_hz': 'mqtt: { detections: { max_rate_hz: 2 } }',
  'mqtt.detections.only_with_objects': 'mqtt: { detections: { only_with_objects: true } }',
  'mqtt.snapshot.max_rate_hz': 'mqtt: { snapshot: { max_rate_hz: 3 } }',
  'mqtt.snapshot.quality': 'mqtt: { snapshot: { quality: 50 } }',
  'mqtt.events.min_duration_s': 'mqtt: { events: { min_duration_s: 2 } }',
  'mqtt.events.end_after_s': 'mqtt: { events: { end_after_s: 9 } }',
  'mqtt.events.update_interval_s': 'mqtt: { events: { update_interval_s: 1 } }',
  'logging.level': 'logging: { level: debug }',
  'logging.publish_frames': 'logging: { publish_frames: true }',
};

/** Every key path a loaded config holds, down to leaves; a map (no fixed properties) is one key. */
function configPaths(s: JsonSchema, prefix = ''): string[] {
  const props = Object.entries(s.properties ?? {});
  if (prefix && !props.length) return [prefix];
  return props.flatMap(([k, sub]) => configPaths(sub, prefix ? `${prefix}.${k}` : k));
}

describe('config: the schema says what a SIGHUP can apply', () => {
  it('every key of the schema has one reload class, and the schema marks no key both restart-only and reconnecting', () => {
    const keys = reloadKeys(configSchema());
    assert.deepEqual(keys.map((k) => k.key).sort(), configPaths(configSchema()).sort());
    assert.equal(new Set(keys.map((k) => k.key)).size, keys.length, 'a key is classified twice');
    const both: string[] = [];
    const walk = (s: JsonSchema, at: string): void => {
      if (s.requiresRestart && s.reconnects) both.push(at);
      for (const [k, sub] of Object.entries(s.properties ?? {})) walk(sub, at ? `${at}.${k}` : k);
    };
    walk(configSchema(), '');
    assert.deepEqual(both, []);
  });

  it('reconnecting keys are the MQTT connection settings only', () => {
    const reconnect = [...reloadClasses()].filter(([, c]) => c === 'reconnect').map(([k]) => k);
    assert.ok(reconnect.length >= 10);
    assert.deepEqual(
      reconnect.filter((k) => !k.startsWith('mqtt.') || k.split('.').length !== 2),
      [],
    );
  });

  it('each key marked live has a change below, and that change is applied by the reload plan', () => {
    const live = [...reloadClasses()].filter(([, c]) => c === 'live').map(([k]) => k);
    assert.deepEqual(live.sort(), Object.keys(LIVE_CHANGES).sort(), 'a live key has no change in LIVE_CHANGES (or one there is not live)');
    const base = cfg('');
    for (const [key, yaml] of Object.entries(LIVE_CHANGES)) {
      const next = cfg(yaml);
      const plan = planReload(base, next);
      assert.deepEqual(plan.applied, [key], `${key}: applied`);
      assert.deepEqual(plan.needsRestart, [], `${key}: nothing needs a restart`);
      assert.deepEqual(plan.merged, next, `${key}: the running config becomes the new one`);
    }
  });

  it('a change to a restart-only key is reported as needing a restart and keeps the running value', () => {
    const restart = [...reloadClasses()].filter(([, c]) => c === 'restart').map(([k]) => k);
    for (const k of [
      'camera.fps',
      'models.detector',
      'inference.core',
      'mqtt.qos.state',
      'mqtt.base_topic',
      'metrics.http.port',
      'segmentation.width',
      'logging.pretty',
      'state_dir',
    ]) {
      assert.ok(restart.includes(k), `${k} is restart-only`);
    }
    const base = cfg('');
    const next = cfg('camera: { fps: 3 }\nmqtt: { qos: { state: 0 } }\nmetrics: { http: { port: 9000 } }');
    const plan = planReload(base, next);
    assert.deepEqual([...plan.needsRestart].sort(), ['camera.fps', 'metrics.http.port', 'mqtt.qos.state']);
    assert.deepEqual(plan.applied, []);
    assert.deepEqual(plan.merged, base);
  });
});
