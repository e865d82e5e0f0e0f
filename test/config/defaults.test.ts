import assert from 'node:assert/strict';
import os from 'node:os';
import { configSchema, loadConfigFile, parseConfigText, resolveConfigPath } from '../../src/config/load.js';
import type { JsonSchema } from '../../src/config/schema.js';

const loadDefaults = (hostname = 'box') => parseConfigText('', null, { env: {}, hostname }).config;

/** Keys without a schema default that the loader fills in itself. */
const FILLED_BY_LOADER = new Set(['device.id', 'device.name']);

describe('config: defaults', () => {
  it('fills the documented defaults', () => {
    const c = loadDefaults();
    assert.equal(c.detection.score_threshold, 0.45);
    assert.equal(c.detection.nms_iou, 0.6);
    assert.equal(c.detection.max_detections, 100);
    assert.deepEqual(c.objects.track, ['person', 'bicycle', 'car', 'motorcycle', 'bus', 'truck', 'cat', 'dog']);
    assert.deepEqual(c.objects.filters, {});
    assert.equal(c.mqtt.base_topic, 'edgesight');
    assert.equal(c.mqtt.url, null);
    assert.equal(c.camera.name, 'camera');
    assert.equal(c.camera.source, 'auto');
    assert.equal(c.segmentation.width % 16, 0);
    assert.equal(c.models.precision === 'fp32' || c.models.precision === 'int8', true);
  });

  it('an empty file, a comment-only file and no file give the same config', () => {
    const none = loadConfigFile(null, { env: {}, hostname: 'box' }).config;
    assert.deepEqual(parseConfigText('', 'a.yaml', { env: {}, hostname: 'box' }).config, none);
    assert.deepEqual(parseConfigText('# nothing here\n', 'a.yaml', { env: {}, hostname: 'box' }).config, none);
  });

  it('a key set in the file keeps the defaults of its siblings', () => {
    const c = parseConfigText('detection:\n  score_threshold: 0.3\n', 'a.yaml', { env: {}, hostname: 'box' }).config;
    assert.equal(c.detection.score_threshold, 0.3);
    assert.equal(c.detection.nms_iou, 0.6);
  });

  it('device.id defaults to the sanitised hostname, device.name to the id', () => {
    assert.equal(loadDefaults('garage-pi').device.id, 'garage-pi');
    assert.equal(loadDefaults('pi.local').device.id, 'pi_local');
    assert.equal(loadDefaults('-weird host/name').device.id, 'weird_host_name');
    assert.equal(loadDefaults('pi.local').device.name, 'pi_local');
    assert.equal(loadDefaults('...').device.id, 'edgesight');
    const real = parseConfigText('', null, { env: {} }).config.device.id;
    assert.equal(
      real,
      os
        .hostname()
        .replace(/[^A-Za-z0-9_-]/g, '_')
        .replace(/^[^A-Za-z0-9]+/, '') || 'edgesight',
    );
    // and the default always passes the id pattern the schema demands of a configured id
    for (const h of ['pi.local', '-weird host/name', '...', 'ünïcode']) {
      const id = loadDefaults(h).device.id;
      assert.doesNotThrow(() => parseConfigText(`device:\n  id: "${id}"\n`, null, { env: {} }), `id ${id} from ${h}`);
    }
  });

  it('a configured id and name are kept', () => {
    const c = parseConfigText('device:\n  id: porch\n  name: Porch camera\n', null, { env: {}, hostname: 'box' }).config;
    assert.deepEqual(c.device, { id: 'porch', name: 'Porch camera' });
  });

  it('every schema key with a default lands in a loaded default config, and no key without one', () => {
    const c = loadDefaults() as unknown as Record<string, unknown>;
    const missing: string[] = [];
    const walk = (schema: JsonSchema, value: unknown, at: string[]): void => {
      for (const [k, sub] of Object.entries(schema.properties ?? {})) {
        const p = [...at, k].join('.');
        const v = (value as Record<string, unknown>)[k];
        if (sub.default === undefined && !FILLED_BY_LOADER.has(p)) {
          if (v !== undefined) missing.push(`${p}: has no default but is set to ${JSON.stringify(v)}`);
          continue;
        }
        if (v === undefined) {
          missing.push(`${p}: missing`);
          continue;
        }
        if (sub.properties) walk(sub, v, [...at, k]);
        else if (sub.default !== undefined) assert.deepEqual(v, sub.default, `${p} equals its schema default`);
      }
      const extra = Object.keys(value as object).filter((k) => !(k in (schema.properties ?? {})) && schema.additionalProperties === false);
      for (const k of extra) missing.push(`${[...at, k].join('.')}: not in the schema`);
    };
    walk(configSchema(), c, []);
    assert.deepEqual(missing, []);
  });

  it('resolveConfigPath: --config, then EDGESIGHT_CONFIG, then none', () => {
    assert.equal(resolveConfigPath('a.yaml', { EDGESIGHT_CONFIG: 'b.yaml' }), 'a.yaml');
    assert.equal(resolveConfigPath(undefined, { EDGESIGHT_CONFIG: 'b.yaml' }), 'b.yaml');
    assert.equal(resolveConfigPath(undefined, {}), null);
  });

  it('an empty section (children commented out) means its defaults', () => {
    const c = parseConfigText('mqtt:\n  # url: mqtt://x\ncamera:\n', 'a.yaml', { env: {}, hostname: 'box' }).config;
    assert.equal(c.mqtt.base_topic, 'edgesight');
    assert.equal(c.camera.fps, 10);
  });
});
