import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { planReload } from '../../src/service/reload.js';

const cfg = (yaml: string) => parseConfigText(yaml, null, { env: {} }).config;

describe('service/reload: the MQTT connection keys are live', () => {
  it('a new password file, user or URL is applied and asks for a reconnect', () => {
    const a = cfg('mqtt: { url: mqtt://a:1883, username: u, password_file: /x }');
    const b = cfg('mqtt: { url: mqtt://b:1883, username: v, password_file: /y }');
    const p = planReload(a, b);
    assert.deepEqual([...p.reconnect].sort(), ['mqtt.password_file', 'mqtt.url', 'mqtt.username']);
    assert.deepEqual(p.needsRestart, []);
    assert.equal(p.merged.mqtt.url, 'mqtt://b:1883');
  });

  it('the embedded broker on either side still needs a restart', () => {
    const p = planReload(cfg('mqtt: { url: null }'), cfg('mqtt: { url: mqtt://b:1883 }'));
    assert.deepEqual(p.reconnect, []);
    assert.deepEqual(p.needsRestart, ['mqtt.url']);
  });

  it('topics and the queue are not connection keys: restart', () => {
    const p = planReload(cfg('mqtt: { url: mqtt://a:1883 }'), cfg('mqtt: { url: mqtt://a:1883, base_topic: other, queue_size: 5 }'));
    assert.deepEqual(p.reconnect, []);
    assert.deepEqual([...p.needsRestart].sort(), ['mqtt.base_topic', 'mqtt.queue_size']);
  });
});

describe('service/reload: nothing is reported as applied that is not', () => {
  it('mqtt.qos needs a restart (the publisher is built with it)', () => {
    const p = planReload(cfg('mqtt: { qos: { state: 1 } }'), cfg('mqtt: { qos: { state: 0 } }'));
    assert.deepEqual(p.applied, []);
    assert.deepEqual(p.needsRestart, ['mqtt.qos.state']);
    assert.equal(p.merged.mqtt.qos.state, 1);
  });

  it('segmentation.every 0 → N needs a restart when no segmenter was loaded; with one it applies', () => {
    const a = cfg('segmentation: { every: 0 }');
    const b = cfg('segmentation: { every: 3 }');
    const without = planReload(a, b, { segmenterLoaded: false });
    assert.deepEqual(without.needsRestart, ['segmentation.every']);
    assert.equal(without.merged.segmentation.every, 0);
    assert.deepEqual(planReload(a, b, { segmenterLoaded: true }).applied, ['segmentation.every']);
    // turning it off is always possible
    assert.deepEqual(planReload(b, a, { segmenterLoaded: false }).applied, ['segmentation.every']);
  });
});
