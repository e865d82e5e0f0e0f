import assert from 'node:assert/strict';
import { writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { useE2e, filesCameraYaml } from '../helpers/e2e.js';
import { freeLoopbackPort } from '../helpers/tls.js';
import { photo } from '../helpers/paths.js';

interface HaConfig {
  unique_id: string;
  default_entity_id: string;
  object_id: string;
  state_topic?: string;
  image_topic?: string;
  command_topic?: string;
  value_template?: string;
  availability: Array<{ topic: string; payload_available: string; payload_not_available: string }>;
  device: { identifiers: string[]; name: string; model: string; manufacturer: string; sw_version: string; configuration_url?: string };
  origin: { name: string; sw_version: string };
}

/**
 * The daemon with Home Assistant discovery on, against a real mosquitto: what a Home Assistant
 * instance would see (configs, the state they point at, removal of stale entities, the birth message).
 */
describe('e2e: Home Assistant discovery from the daemon', function () {
  this.timeout(120_000);
  const e2e = useE2e({ topics: ['homeassistant/#', 'edgesight/#'], daemonPerTest: false });
  let daemon: DaemonProc | null = null;
  let metricsPort: number;
  const stale = 'homeassistant/sensor/ha_e2e/cam1_bus_count/config';
  const config = (base = 'edgesight', extra = ''): Promise<string> =>
    writeConfig(`
${filesCameraYaml({ device: 'ha_e2e', deviceName: 'Porch', frames: photo('astronaut.png') })}
objects: { track: [person, dog] }
mqtt:
  url: ${e2e.broker.url}
  base_topic: ${base}
  reconnect_max_s: 1
  homeassistant: { enabled: true }
metrics:
  stats_interval_s: 5
  http: { enabled: true, port: ${metricsPort} }
logging: { level: info, pretty: false }
${extra}`);

  const cfgOf = (topic: string): HaConfig => {
    const m = [...e2e.sub.messages].reverse().find((x) => x.topic === topic && x.payload.length > 0);
    assert.ok(m, `no config on ${topic}`);
    return JSON.parse(m.payload.toString()) as HaConfig;
  };
  const waitFor = (pred: (t: string, p: Buffer) => boolean, what: string, ms = 60_000): Promise<{ topic: string; payload: Buffer }> =>
    e2e.sub.waitFor(pred, ms, what).catch((e: Error) => {
      throw new Error(`${e.message}\ndaemon output:\n${daemon?.output() ?? ''}`);
    });

  before(async () => {
    metricsPort = await freeLoopbackPort();
    // what an earlier version (or config) left behind: a label no longer tracked
    await e2e.sub.client.publishAsync(
      stale,
      JSON.stringify({ unique_id: 'edgesight_ha_e2e_cam1_bus_count', state_topic: 'edgesight/ha_e2e/cam1/objects/bus' }),
      { qos: 1, retain: true },
    );
    daemon = e2e.run(await config());
    await waitFor((t) => t === 'homeassistant/binary_sensor/ha_e2e/cam1_person_occupancy/config', 'the person occupancy config');
  });

  it('publishes the device with its entities; every config names a topic the daemon really publishes on', async () => {
    const expected = [
      'binary_sensor/ha_e2e/cam1_person_occupancy',
      'sensor/ha_e2e/cam1_person_count',
      'binary_sensor/ha_e2e/cam1_dog_occupancy',
      'sensor/ha_e2e/cam1_dog_count',
      'sensor/ha_e2e/cam1_processed_fps',
      'sensor/ha_e2e/cam1_skipped_fps',
      'sensor/ha_e2e/cam1_inference_ms_p50',
      'sensor/ha_e2e/cam1_inference_ms_p99',
      'sensor/ha_e2e/cam1_end_to_end_ms_p99',
      'image/ha_e2e/cam1_snapshot',
      'button/ha_e2e/cam1_snapshot_request',
    ].map((s) => `homeassistant/${s}/config`);
    for (const t of expected) await waitFor((x) => x === t, t, 10_000);
    for (const t of expected) {
      const c = cfgOf(t);
      assert.ok(c.unique_id.startsWith('edgesight_ha_e2e_cam1_'), t);
      assert.match(c.default_entity_id, /^(binary_sensor|sensor|image|button)\.ha_e2e_cam1_[a-z0-9_]+$/);
      assert.deepEqual(c.availability, [{ topic: 'edgesight/ha_e2e/availability', payload_available: 'online', payload_not_available: 'offline' }]);
      assert.deepEqual(c.device.identifiers, ['edgesight_ha_e2e']);
      assert.equal(c.device.name, 'Porch');
      assert.equal(c.device.configuration_url, `http://127.0.0.1:${metricsPort}/metrics`, 'the bound metrics endpoint');
      assert.equal(c.origin.name, 'edgesight');
      assert.match(c.device.sw_version, /^\d+\.\d+\.\d+/);
    }
    // the retained availability the entities depend on
    await waitFor((t, p) => t === 'edgesight/ha_e2e/availability' && p.toString() === 'online', 'availability online');

    // occupancy/count: the retained count on the state topic; the astronaut photo has a person
    const person = cfgOf('homeassistant/binary_sensor/ha_e2e/cam1_person_occupancy/config');
    assert.equal(person.state_topic, 'edgesight/ha_e2e/cam1/objects/person');
    await waitFor((t, p) => t === person.state_topic && Number(p.toString()) >= 1, 'a person count ≥ 1 (occupancy ON)');
    const dog = cfgOf('homeassistant/sensor/ha_e2e/cam1_dog_count/config');
    await waitFor((t, p) => t === dog.state_topic && p.toString() === '0', 'a dog count of 0 (occupancy OFF)');

    // diagnostics: the stats JSON has a number under every key a template reads
    const fps = cfgOf('homeassistant/sensor/ha_e2e/cam1_processed_fps/config');
    const stats = await waitFor((t) => t === fps.state_topic, 'a stats message', 20_000);
    const s = JSON.parse(stats.payload.toString()) as Record<string, unknown>;
    for (const t of expected.filter((x) => x.includes('/sensor/') && !x.includes('_count'))) {
      const key = /value_json\.([a-z0-9_]+)/.exec(cfgOf(t).value_template ?? '')![1]!;
      assert.equal(typeof s[key], 'number', `stats.${key} for ${t}`);
    }
    assert.ok((s.processed_fps as number) > 0);
  });

  it('the button asks for a snapshot and the image entity topic receives a JPEG', async () => {
    // a snapshot needs a processed frame
    await waitFor((t, p) => t === 'edgesight/ha_e2e/cam1/objects/person' && Number(p.toString()) >= 1, 'a processed frame with a person');
    const button = cfgOf('homeassistant/button/ha_e2e/cam1_snapshot_request/config');
    const image = cfgOf('homeassistant/image/ha_e2e/cam1_snapshot/config') as HaConfig & { content_type: string };
    assert.equal(image.content_type, 'image/jpeg');
    await e2e.sub.client.publishAsync(button.command_topic!, 'PRESS', { qos: 1 });
    const jpeg = await waitFor((t) => t === image.image_topic, 'a snapshot', 20_000);
    assert.deepEqual([...jpeg.payload.subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG magic');
  });

  it('clears the stale retained config of a label no longer tracked', async () => {
    await waitFor((t, p) => t === stale && p.length === 0, 'an empty retained payload on the stale config', 10_000);
    assert.match(daemon!.output(), /removed a Home Assistant entity that is no longer configured/);
  });

  it('republishes every config when Home Assistant sends its birth message', async () => {
    const from = e2e.sub.messages.length;
    await e2e.sub.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    const topic = 'homeassistant/sensor/ha_e2e/cam1_person_count/config';
    await waitFor(
      (t) => t === topic && e2e.sub.messages.findIndex((m, i) => i >= from && m.topic === topic) >= 0,
      'a config after the birth message',
      10_000,
    );
    const again = new Set(
      e2e.sub.messages
        .slice(from)
        .filter((m) => m.topic.startsWith('homeassistant/') && m.topic.endsWith('/config') && m.payload.length > 0)
        .map((m) => m.topic),
    );
    assert.ok(again.size >= 11, `republished ${again.size} configs`);
  });

  it('refuses mqtt.homeassistant.discovery_prefix equal to mqtt.base_topic: exit 78 naming the key', async () => {
    const d = e2e.run(await config('homeassistant'));
    const { code } = await d.exited;
    assert.equal(code, 78, d.output());
    assert.match(d.output(), /:\d+: mqtt\.homeassistant\.discovery_prefix: must differ from mqtt\.base_topic \(both are "homeassistant"\)/);
  });
});
