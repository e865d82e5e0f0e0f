import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { redactConfig } from '../../src/config/redact.js';

const load = (text: string, env: Record<string, string> = {}) => parseConfigText(text, null, { env, hostname: 'box' }).config;

describe('config: redactConfig', () => {
  it('hides mqtt.password whether it came from the file or the environment', () => {
    const fromFile = redactConfig(load('mqtt:\n  username: cam\n  password: s3cret!\n'));
    assert.deepEqual((fromFile.mqtt as Record<string, unknown>).password, '***');
    assert.equal((fromFile.mqtt as Record<string, unknown>).username, 'cam');
    const fromEnv = redactConfig(load('', { EDGESIGHT__MQTT__PASSWORD: 'envpass' }));
    assert.equal((fromEnv.mqtt as Record<string, unknown>).password, '***');
    assert.ok(!JSON.stringify(fromEnv).includes('envpass'));
  });

  it('leaves an unset password null (so the printout shows it is unset)', () => {
    assert.equal((redactConfig(load('')).mqtt as Record<string, unknown>).password, null);
  });

  it('hides user:password inside URLs, keeping scheme and host', () => {
    const r = redactConfig(load('mqtt:\n  url: mqtts://cam:p%40ss@broker.local:8883\n'));
    assert.equal((r.mqtt as Record<string, unknown>).url, 'mqtts://***@broker.local:8883');
    const plain = redactConfig(load('mqtt:\n  url: mqtt://broker.local:1883\n'));
    assert.equal((plain.mqtt as Record<string, unknown>).url, 'mqtt://broker.local:1883');
  });

  it('hides credentials in URLs anywhere in the tree (e.g. an RTSP camera input)', () => {
    const r = redactConfig(load('camera:\n  ffmpeg:\n    input: rtsp://admin:hunter2@192.168.1.20:554/stream1\n'));
    const s = JSON.stringify(r);
    assert.ok(!s.includes('hunter2'), s);
    assert.match(s, /rtsp:\/\/\*\*\*@192\.168\.1\.20:554\/stream1/);
  });

  it('does not modify the config it was given', () => {
    const c = load('mqtt:\n  password: pw\n  url: mqtt://u:pw@h:1883\n');
    redactConfig(c);
    assert.equal(c.mqtt.password, 'pw');
    assert.equal(c.mqtt.url, 'mqtt://u:pw@h:1883');
  });
});

describe('config: one redactor for URLs', () => {
  it("hides a password holding '@' whole: mqtt://u:p@ss@broker → mqtt://***@broker", async () => {
    const { redactUrlCredentials } = await import('../../src/config/redact.js');
    assert.equal(redactUrlCredentials('mqtt://u:p@ss@broker:1883'), 'mqtt://***@broker:1883');
    assert.equal(redactUrlCredentials('mqtts://cam:hunter2@broker.local:8883/x'), 'mqtts://***@broker.local:8883/x');
    assert.equal(redactUrlCredentials('mqtt://broker:1883'), 'mqtt://broker:1883');
  });

  it('the daemon keeps no redactor of its own (the one it had left part of such a password in its logs)', async () => {
    const daemon = (await import('../../src/service/daemon.js')) as Record<string, unknown>;
    assert.equal(daemon.redactUrl, undefined);
  });
});
