import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfigText } from '../../src/config/load.js';

/** The problems of a config that must fail, as `where: path: message` lines. */
function problems(text: string, env: Record<string, string>): string[] {
  try {
    parseConfigText(text, 'test.yaml', { env, hostname: 'box' });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e.format().split('\n');
  }
  assert.fail('the config was accepted');
}

const load = (text: string, env: Record<string, string>) => parseConfigText(text, 'test.yaml', { env, hostname: 'box' }).config;

describe('config: environment overrides (EDGESIGHT__SECTION__KEY)', () => {
  it('sets a string, replacing the file value', () => {
    const c = load('mqtt:\n  url: mqtt://file:1883\n', { EDGESIGHT__MQTT__URL: 'mqtts://env.local:8883' });
    assert.equal(c.mqtt.url, 'mqtts://env.local:8883');
  });

  it('converts integers by the schema type', () => {
    const c = load('', { EDGESIGHT__INFERENCE__CORE: '1', EDGESIGHT__MQTT__KEEPALIVE_S: '60' });
    assert.equal(c.inference.core, 1);
    assert.equal(c.mqtt.keepalive_s, 60);
    assert.equal(typeof c.inference.core, 'number');
  });

  it('converts booleans (true/false, 1/0, yes/no, on/off)', () => {
    assert.equal(load('', { EDGESIGHT__MQTT__HOMEASSISTANT__ENABLED: 'true' }).mqtt.homeassistant.enabled, true);
    assert.equal(load('', { EDGESIGHT__MQTT__HOMEASSISTANT__ENABLED: 'on' }).mqtt.homeassistant.enabled, true);
    assert.equal(load('mqtt: {homeassistant: {enabled: true}}', { EDGESIGHT__MQTT__HOMEASSISTANT__ENABLED: '0' }).mqtt.homeassistant.enabled, false);
  });

  it('splits comma lists into arrays, and accepts a JSON array', () => {
    assert.deepEqual(load('', { EDGESIGHT__OBJECTS__TRACK: 'person,car' }).objects.track, ['person', 'car']);
    assert.deepEqual(load('', { EDGESIGHT__OBJECTS__TRACK: ' person , dog ' }).objects.track, ['person', 'dog']);
    assert.deepEqual(load('', { EDGESIGHT__OBJECTS__TRACK: '["traffic light","car"]' }).objects.track, ['traffic light', 'car']);
  });

  it('sets null for nullable keys and numbers inside per-label filters', () => {
    const c = load('mqtt:\n  url: mqtt://x:1883\n', { EDGESIGHT__MQTT__URL: 'null', EDGESIGHT__OBJECTS__FILTERS__PERSON__MIN_SCORE: '0.55' });
    assert.equal(c.mqtt.url, null);
    assert.deepEqual(c.objects.filters, { person: { min_score: 0.55 } });
  });

  it('leaves other keys of the section and their defaults alone', () => {
    const c = load('mqtt:\n  base_topic: home\n', { EDGESIGHT__MQTT__URL: 'mqtt://b:1883' });
    assert.equal(c.mqtt.base_topic, 'home');
    assert.equal(c.mqtt.keepalive_s, 30);
  });

  it('ignores single-underscore settings (EDGESIGHT_CONFIG, EDGESIGHT_MODELS_MIRROR) and other variables', () => {
    const c = load('', { EDGESIGHT_CONFIG: '/nope.yaml', EDGESIGHT_MODELS_MIRROR: '/m', PATH: '/bin', EDGESIGHTX__A: '1' });
    assert.equal(c.mqtt.url, null);
  });

  it('an unknown key is an error naming the variable', () => {
    assert.deepEqual(problems('', { EDGESIGHT__MQTT__URI: 'mqtt://x' }), ['env EDGESIGHT__MQTT__URI: mqtt.uri: unknown config key']);
    assert.deepEqual(problems('', { EDGESIGHT__CAMRA__FPS: '3' }), ['env EDGESIGHT__CAMRA__FPS: camra.fps: unknown config key']);
    assert.deepEqual(problems('', { EDGESIGHT__MQTT____URL: 'x' }), ['env EDGESIGHT__MQTT____URL: mqtt..url: unknown config key']);
    // a section is not a value
    assert.deepEqual(problems('', { EDGESIGHT__MQTT: 'mqtt://x' }), ['env EDGESIGHT__MQTT: mqtt: must be object (got "mqtt://x")']);
  });

  it('a wrong-typed value is an error naming the variable and the value', () => {
    assert.deepEqual(problems('', { EDGESIGHT__INFERENCE__CORE: 'last' }), [
      'env EDGESIGHT__INFERENCE__CORE: inference.core: must be integer (got "last")',
    ]);
    assert.deepEqual(problems('', { EDGESIGHT__INFERENCE__CORE: '1.5' }), [
      'env EDGESIGHT__INFERENCE__CORE: inference.core: must be integer (got 1.5)',
    ]);
    assert.deepEqual(problems('', { EDGESIGHT__MQTT__HOMEASSISTANT__ENABLED: 'maybe' }), [
      'env EDGESIGHT__MQTT__HOMEASSISTANT__ENABLED: mqtt.homeassistant.enabled: must be boolean (got "maybe")',
    ]);
    assert.deepEqual(problems('', { EDGESIGHT__CAMERA__FPS: '-3' }), ['env EDGESIGHT__CAMERA__FPS: camera.fps: must be > 0 (got -3)']);
    assert.deepEqual(problems('', { EDGESIGHT__MQTT__URL: 'broker:1883' }).length, 1);
    assert.match(problems('', { EDGESIGHT__MQTT__URL: 'broker:1883' })[0]!, /^env EDGESIGHT__MQTT__URL: mqtt\.url: has an invalid format/);
  });

  it('an override can fix a bad file value, and a file problem keeps its line next to an env problem', () => {
    assert.equal(load('camera:\n  fps: -1\n', { EDGESIGHT__CAMERA__FPS: '4' }).camera.fps, 4);
    assert.deepEqual(problems('camera:\n  fps: -1\n', { EDGESIGHT__INFERENCE__THREADS: '0' }), [
      'test.yaml:2: camera.fps: must be > 0 (got -1)',
      'env EDGESIGHT__INFERENCE__THREADS: inference.threads: must be >= 1 (got 0)',
    ]);
  });
});
