import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient, type IPublishPacket } from 'mqtt';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import type { Config } from '../../src/config/types.js';
import { topicsFor } from '../../src/mqtt/topics.js';
import { MqttPublisher, type ClientEvent } from '../../src/mqtt/client.js';
import {
  buildEntities,
  configurationUrl,
  hasSocTemperature,
  homeAssistantConfigProblems,
  HomeAssistantDiscovery,
  type DiscoveryEntity,
} from '../../src/homeassistant/discovery.js';
import { startMosquitto, type Mosquitto } from '../helpers/mosquitto.js';

const silent = pino({ level: 'silent' });

function config(yaml: string): Config {
  return parseConfigText(yaml, null, { env: {}, hostname: 'testhost' }).config;
}

const BASE_YAML = `
device: { id: Pi-Garden, name: Garden camera }
camera: { name: cam1 }
objects: { track: [person, traffic light] }
mqtt: { homeassistant: { enabled: true } }
`;

describe('Home Assistant discovery payloads', () => {
  const c = config(BASE_YAML);
  const topics = topicsFor(c.mqtt.base_topic, c.device.id, c.camera.name);
  const entities = buildEntities({ config: c, topics, version: '1.2.3', socTemperature: true });
  const byId = (id: string): DiscoveryEntity => {
    const e = entities.find((x) => x.objectId === id);
    assert.ok(e, `entity ${id} missing; have ${entities.map((x) => x.objectId).join(', ')}`);
    return e;
  };

  it('has per label an occupancy binary_sensor and a count sensor, diagnostics, the SoC temperature, a snapshot image and button', () => {
    assert.deepEqual(
      entities.map((e) => `${e.component}:${e.objectId}`),
      [
        'binary_sensor:cam1_person_occupancy',
        'sensor:cam1_person_count',
        'binary_sensor:cam1_traffic_light_occupancy',
        'sensor:cam1_traffic_light_count',
        'sensor:cam1_processed_fps',
        'sensor:cam1_skipped_fps',
        'sensor:cam1_inference_ms_p50',
        'sensor:cam1_inference_ms_p99',
        'sensor:cam1_end_to_end_ms_p99',
        'sensor:cam1_soc_temp_c',
        'image:cam1_snapshot',
        'button:cam1_snapshot_request',
      ],
    );
  });

  it('every config has what HA requires: unique_id, default_entity_id/object_id, a topic, availability, device identifiers, origin', () => {
    const uniques = new Set<string>();
    for (const e of entities) {
      const p = e.payload as Record<string, unknown> & {
        device: Record<string, unknown>;
        availability: Array<Record<string, string>>;
        origin: Record<string, string>;
      };
      assert.equal(e.topic, `homeassistant/${e.component}/Pi-Garden/${e.objectId}/config`);
      assert.match(e.objectId, /^[a-zA-Z0-9_-]+$/);
      assert.equal(typeof p.unique_id, 'string');
      assert.ok(!uniques.has(p.unique_id as string), `duplicate unique_id ${String(p.unique_id)}`);
      uniques.add(p.unique_id as string);
      assert.equal(p.unique_id, `edgesight_Pi-Garden_${e.objectId}`);
      // entity ids are lowercase [a-z0-9_] with the component as domain
      assert.match(String(p.default_entity_id), new RegExp(`^${e.component}\\.[a-z0-9_]+$`));
      assert.equal(p.default_entity_id, `${e.component}.${String(p.object_id)}`);
      assert.ok(String(p.object_id).startsWith('pi_garden_cam1_'));
      const topicKey = e.component === 'image' ? 'image_topic' : e.component === 'button' ? 'command_topic' : 'state_topic';
      assert.equal(typeof p[topicKey], 'string', `${e.objectId}: ${topicKey}`);
      assert.ok(String(p[topicKey]).startsWith('edgesight/Pi-Garden/'));
      assert.deepEqual(p.availability, [
        { topic: 'edgesight/Pi-Garden/availability', payload_available: 'online', payload_not_available: 'offline' },
      ]);
      assert.deepEqual(p.device.identifiers, ['edgesight_Pi-Garden']);
      assert.equal(p.device.name, 'Garden camera');
      assert.equal(p.device.manufacturer, 'edgesight');
      assert.equal(typeof p.device.model, 'string');
      assert.equal(p.device.sw_version, '1.2.3');
      assert.equal(p.device.configuration_url, undefined, 'no metrics endpoint → no configuration_url');
      assert.deepEqual(p.origin, { name: 'edgesight', sw_version: '1.2.3' });
      // full keys only: HA's abbreviations (stat_t, uniq_id, dev, avty …) are not used
      for (const k of Object.keys(p)) assert.ok(!['stat_t', 'uniq_id', 'dev', 'avty', 'o', 'val_tpl', 'unit_of_meas'].includes(k), k);
    }
  });

  it('occupancy reads the retained count through a template; the count sensor reads it as is', () => {
    const occ = byId('cam1_traffic_light_occupancy').payload;
    assert.equal(occ.state_topic, 'edgesight/Pi-Garden/cam1/objects/traffic_light');
    assert.equal(occ.device_class, 'occupancy');
    assert.equal(occ.value_template, "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}");
    assert.equal(occ.payload_on, 'ON');
    assert.equal(occ.payload_off, 'OFF');
    assert.equal(occ.name, 'Traffic light occupancy');
    const count = byId('cam1_traffic_light_count').payload;
    assert.equal(count.state_topic, occ.state_topic);
    assert.equal(count.state_class, 'measurement');
    assert.equal(count.value_template, undefined, 'a plain number needs no template');
  });

  it('diagnostics read the JSON stats with value_template, units, measurement, diagnostic category', () => {
    const expect: Record<string, { key: string; unit: string; device_class?: string }> = {
      cam1_processed_fps: { key: 'processed_fps', unit: 'fps' },
      cam1_skipped_fps: { key: 'skipped_fps', unit: 'fps' },
      cam1_inference_ms_p50: { key: 'inference_ms_p50', unit: 'ms', device_class: 'duration' },
      cam1_inference_ms_p99: { key: 'inference_ms_p99', unit: 'ms', device_class: 'duration' },
      cam1_end_to_end_ms_p99: { key: 'end_to_end_ms_p99', unit: 'ms', device_class: 'duration' },
      cam1_soc_temp_c: { key: 'soc_temp_c', unit: '°C', device_class: 'temperature' },
    };
    for (const [id, x] of Object.entries(expect)) {
      const p = byId(id).payload;
      assert.equal(p.state_topic, 'edgesight/Pi-Garden/stats', id);
      assert.equal(p.value_template, `{{ value_json.${x.key} }}`, id);
      assert.equal(p.unit_of_measurement, x.unit, id);
      assert.equal(p.state_class, 'measurement', id);
      assert.equal(p.entity_category, 'diagnostic', id);
      assert.equal(p.device_class, x.device_class, id);
      assert.equal(p.expire_after, 90, `${id}: three stats periods of 30 s`);
    }
  });

  it('the stats keys the diagnostics read exist in the stats payload schema', async () => {
    const { STATS_SCHEMA } = await import('../../src/metrics/stats-schema.js');
    for (const e of entities.filter((x) => x.payload.state_topic === topics.stats)) {
      const key = /value_json\.([a-z0-9_]+)/.exec(String(e.payload.value_template))![1]!;
      assert.ok(key in STATS_SCHEMA.properties, `${key} is not a stats key`);
    }
  });

  it('the snapshot is an image entity on the snapshot topic (JPEG); the button asks for one', () => {
    const img = byId('cam1_snapshot').payload;
    assert.equal(img.image_topic, 'edgesight/Pi-Garden/cam1/snapshot');
    assert.equal(img.content_type, 'image/jpeg');
    assert.equal(img.state_topic, undefined);
    const btn = byId('cam1_snapshot_request').payload;
    assert.equal(btn.command_topic, 'edgesight/Pi-Garden/cam1/snapshot/get');
  });

  it('no SoC temperature sensor where no thermal zone is readable', () => {
    const without = buildEntities({ config: c, topics, version: '1', socTemperature: false });
    assert.ok(!without.some((e) => e.objectId.endsWith('soc_temp_c')));
    assert.equal(without.length, entities.length - 1);
  });

  it('configuration_url points at /metrics when the endpoint is on (wildcard bind → host name)', () => {
    const on = config(BASE_YAML + 'metrics: { http: { enabled: true, bind: 0.0.0.0, port: 9464, token_file: http.token } }\n');
    const withUrl = buildEntities({ config: on, topics, version: '1', socTemperature: false, metricsHttpPort: 9464 });
    for (const e of withUrl) assert.match(String((e.payload.device as Record<string, unknown>).configuration_url), /^http:\/\/[^/]+:9464\/metrics$/);
    assert.equal(configurationUrl('0.0.0.0', 9464, 'pi5'), 'http://pi5:9464/metrics');
    assert.equal(configurationUrl('192.168.1.20', 9000, 'pi5'), 'http://192.168.1.20:9000/metrics');
    assert.equal(configurationUrl('fd00::2', 9000, 'pi5'), 'http://[fd00::2]:9000/metrics');
  });

  it('refuses a discovery prefix equal to or overlapping the base topic, only when enabled', () => {
    // the loader refuses it (so check-config, run and SIGHUP agree), naming the key and its line
    const refused = (yaml: string): ConfigError => {
      try {
        parseConfigText(yaml, 'x.yaml', { env: {}, hostname: 'testhost' });
      } catch (e) {
        if (e instanceof ConfigError) return e;
        throw e;
      }
      assert.fail(`accepted: ${yaml}`);
    };
    const same = refused(`mqtt:\n  base_topic: homeassistant\n  homeassistant: { enabled: true }\n`);
    assert.equal(same.problems.length, 1);
    assert.equal(same.problems[0]!.path, 'mqtt.homeassistant.discovery_prefix');
    assert.match(same.problems[0]!.message, /must differ from mqtt\.base_topic \(both are "homeassistant"\)/);
    assert.match(
      refused(`mqtt: { base_topic: ha/edgesight, homeassistant: { enabled: true, discovery_prefix: ha } }`).problems[0]!.message,
      /overlap/,
    );
    assert.deepEqual(homeAssistantConfigProblems(config(`mqtt: { base_topic: homeassistant, homeassistant: { enabled: false } }`)), []);
    assert.deepEqual(
      homeAssistantConfigProblems(config(`mqtt: { base_topic: ha2, homeassistant: { enabled: true, discovery_prefix: ha } }`)),
      [],
      'a shared prefix of characters is not an overlap of topic levels',
    );
    // and the discovery module itself refuses such a config if one reaches it another way
    const bad = config(`mqtt: { base_topic: homeassistant }`);
    bad.mqtt.homeassistant.enabled = true;
    assert.equal(homeAssistantConfigProblems(bad).length, 1);
    assert.throws(
      () => new HomeAssistantDiscovery({ config: bad, topics, publisher: { publish: () => undefined }, log: silent, version: '1' }),
      /discovery_prefix: must differ/,
    );
  });

  it('hasSocTemperature finds a readable thermal zone', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'edgesight-thermal-'));
    try {
      assert.equal(hasSocTemperature(root), false);
      await mkdir(path.join(root, 'sys/class/thermal/thermal_zone0'), { recursive: true });
      assert.equal(hasSocTemperature(root), false, 'a zone without temp');
      await writeFile(path.join(root, 'sys/class/thermal/thermal_zone0/temp'), '48312\n');
      assert.equal(hasSocTemperature(root), true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('Home Assistant discovery against a real mosquitto', function () {
  this.timeout(30_000);
  let broker: Mosquitto;
  before(async () => {
    broker = await startMosquitto();
  });
  after(async () => {
    await broker?.stop();
  });

  /** A raw client recording every packet (retain flag and QoS included). */
  async function watcher(filter: string): Promise<{ client: MqttClient; packets: IPublishPacket[] }> {
    const client = mqtt.connect(broker.url, { clientId: `ha_watch_${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const packets: IPublishPacket[] = [];
    client.on('message', (_t, _p, packet) => packets.push(packet));
    await client.subscribeAsync(filter, { qos: 1 });
    return { client, packets };
  }

  async function until<T>(f: () => T | undefined | false, what: string, ms = 10_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = f();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The retained messages under `filter` right now, read by a fresh subscriber. */
  async function retained(filter: string): Promise<Map<string, string>> {
    const w = await watcher(filter);
    // the broker sends retained messages right after SUBACK; a marker published afterwards arrives behind them
    const marker = `zz_marker/${Math.random().toString(16).slice(2)}`;
    await w.client.subscribeAsync(marker, { qos: 1 });
    await w.client.publishAsync(marker, 'x', { qos: 1 });
    await until(() => w.packets.some((p) => p.topic === marker), 'marker');
    await w.client.endAsync(true);
    return new Map(w.packets.filter((p) => p.retain).map((p) => [p.topic, p.payload.toString()]));
  }

  /** Wired like the daemon: HA built first with a forwarding publisher, its subscriptions given to MqttPublisher. */
  function start(cfg: () => Config, device: string): { publisher: MqttPublisher; ha: HomeAssistantDiscovery; connected: Promise<void> } {
    const c = cfg();
    const topics = topicsFor(c.mqtt.base_topic, device, c.camera.name);
    let publisher: MqttPublisher | undefined;
    const ha = new HomeAssistantDiscovery({
      config: cfg,
      topics,
      publisher: { publish: (t, p, o) => publisher?.publish(t, p, o) },
      log: silent,
      version: '9.9.9',
      socTemperature: false,
    });
    publisher = new MqttPublisher({
      url: broker.url,
      clientId: `ha_test_${device}`,
      keepaliveS: 30,
      protocolVersion: 5,
      reconnectMaxS: 1,
      qos: { state: 1, stream: 0 },
      queueSize: 50,
      will: { topic: topics.availability, payload: 'offline' },
      onConnect: () => ha.publishAll(),
      subscriptions: ha.subscriptions(),
    });
    const connected = new Promise<void>((resolve) => {
      publisher!.on('event', (ev: ClientEvent) => {
        if (ev.type === 'connected') resolve();
        if (ev.type === 'message') ha.onMessage(ev.topic, ev.payload);
      });
    });
    return { publisher, ha, connected };
  }

  it('publishes every config retained at QoS 1, removes stale ones of this camera only, and republishes on the HA birth message', async () => {
    const yaml = (track: string): string =>
      `device: { id: ha_dev }\ncamera: { name: cam1 }\nobjects: { track: [${track}] }\nmqtt: { homeassistant: { enabled: true } }\n`;
    let current = config(yaml('person, dog'));
    // left over from an earlier run: a label no longer tracked, another camera of the same device, another device
    const stale = 'homeassistant/sensor/ha_dev/cam1_bus_count/config';
    const otherCamera = 'homeassistant/sensor/ha_dev/cam2_person_count/config';
    const otherDevice = 'homeassistant/sensor/other_dev/cam1_bus_count/config';
    const seed = await watcher('seed/none');
    for (const t of [stale, otherCamera, otherDevice]) await seed.client.publishAsync(t, JSON.stringify({ unique_id: t }), { qos: 1, retain: true });
    await seed.client.endAsync(true);

    const { publisher, ha, connected } = start(() => current, 'ha_dev');
    try {
      await connected;
      const wanted = ha.entities().map((e) => e.topic);
      let snapshot = new Map<string, string>();
      for (let i = 0; i < 100; i++) {
        snapshot = await retained('homeassistant/#');
        if (!snapshot.has(stale) && wanted.every((t) => snapshot.has(t))) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      for (const t of wanted) {
        const p = JSON.parse(snapshot.get(t)!) as { unique_id: string; availability: unknown[] };
        assert.ok(p.unique_id.startsWith('edgesight_ha_dev_cam1_'), t);
      }
      assert.ok(!snapshot.has(stale), 'the stale config of this camera was cleared');
      assert.ok(snapshot.has(otherCamera), 'another camera of the same device is left alone');
      assert.ok(snapshot.has(otherDevice), 'another device is left alone');

      // retained at QoS 1: a QoS 1 subscriber receives them with retain and QoS 1
      const w = await watcher(`homeassistant/+/ha_dev/+/config`);
      await until(() => w.packets.length >= wanted.length, 'retained configs');
      for (const p of w.packets.filter((x) => wanted.includes(x.topic))) {
        assert.equal(p.retain, true, p.topic);
        assert.equal(p.qos, 1, p.topic);
      }

      // HA restarts: its birth message makes every config arrive again (not retained: a live republish)
      const before = w.packets.length;
      await w.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
      await until(
        () => w.packets.slice(before).filter((p) => !p.retain && wanted.includes(p.topic)).length === wanted.length,
        'republish after the birth message',
      );
      // 'offline' (HA's last will) triggers nothing
      const afterBirth = w.packets.length;
      await w.client.publishAsync('homeassistant/status', 'offline', { qos: 1 });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(w.packets.length, afterBirth, 'no republish on offline');

      // SIGHUP: dog is no longer tracked → its two entities are cleared at once
      current = config(yaml('person'));
      ha.publishAll();
      const dogTopics = wanted.filter((t) => t.includes('_dog_'));
      assert.equal(dogTopics.length, 2);
      await until(() => dogTopics.every((t) => w.packets.some((p) => p.topic === t && p.payload.length === 0)), 'empty retained payloads for dog');
      const finalState = await retained('homeassistant/#');
      for (const t of dogTopics) assert.ok(!finalState.has(t), `${t} still retained`);
      assert.ok(finalState.has('homeassistant/binary_sensor/ha_dev/cam1_person_occupancy/config'));
      await w.client.endAsync(true);
    } finally {
      await publisher.close(undefined, 500);
    }
  });
});
