import os from 'node:os';
import type { Config } from '../config/types.js';
import type { CameraTopics } from '../mqtt/topics.js';
import { labelSlug } from '../mqtt/topics.js';
import { vocClassOf } from '../postprocess/voc-coco.js';

/**
 * Home Assistant MQTT discovery payloads, built from the config alone (no I/O) so they can be checked
 * field by field. Full keys, never HA's abbreviations: the payloads are read by people debugging with
 * mosquitto_sub far more often than their size matters.
 */

export type Component = 'binary_sensor' | 'sensor' | 'image' | 'button';

export interface DiscoveryEntity {
  component: Component;
  /** `<camera>_<what>`: the `<object_id>` topic level; [a-zA-Z0-9_-] only */
  objectId: string;
  /** `<prefix>/<component>/<node_id>/<object_id>/config` */
  topic: string;
  payload: Record<string, unknown>;
}

export interface EntityContext {
  config: Config;
  topics: CameraTopics;
  version: string;
  /** bound port of the Prometheus endpoint, when it is on */
  metricsHttpPort?: number;
  /** publish the SoC temperature sensor (a readable thermal zone exists) */
  socTemperature: boolean;
}

/** HA entity ids are lowercase `[a-z0-9_]`; device ids may hold capitals and `-`. */
export function entitySlug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** `http://host:port/metrics` for the device page's "Visit" link; a wildcard bind is shown as the hostname. */
export function configurationUrl(bind: string, port: number, hostname: string = os.hostname()): string {
  const host = bind === '' || bind === '0.0.0.0' || bind === '::' ? hostname : bind;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`;
}

interface StatsSensor {
  key: string;
  name: string;
  unit: string;
  deviceClass?: string;
  icon?: string;
}

/** Diagnostic sensors read from the `stats` topic (keys from src/metrics/stats-schema.ts). */
const STATS_SENSORS: readonly StatsSensor[] = [
  { key: 'processed_fps', name: 'Processed frame rate', unit: 'fps', icon: 'mdi:speedometer' },
  { key: 'skipped_fps', name: 'Skipped frame rate', unit: 'fps', icon: 'mdi:speedometer-slow' },
  { key: 'inference_ms_p50', name: 'Inference latency p50', unit: 'ms', deviceClass: 'duration' },
  { key: 'inference_ms_p99', name: 'Inference latency p99', unit: 'ms', deviceClass: 'duration' },
  { key: 'end_to_end_ms_p99', name: 'End-to-end latency p99', unit: 'ms', deviceClass: 'duration' },
];
const SOC_TEMP: StatsSensor = { key: 'soc_temp_c', name: 'SoC temperature', unit: '°C', deviceClass: 'temperature' };

const capitalise = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

/** Every entity this device should have right now, in a stable order. */
export function buildEntities(ctx: EntityContext): DiscoveryEntity[] {
  const { config: c, topics } = ctx;
  const prefix = c.mqtt.homeassistant.discovery_prefix;
  const node = c.device.id;
  const camera = c.camera.name;
  const devSlug = entitySlug(node);

  const device: Record<string, unknown> = {
    identifiers: [`edgesight_${node}`],
    name: c.device.name ?? node,
    manufacturer: 'edgesight',
    model: 'edgesight edge vision daemon',
    sw_version: ctx.version,
  };
  if (c.metrics.http.enabled && ctx.metricsHttpPort) device.configuration_url = configurationUrl(c.metrics.http.bind, ctx.metricsHttpPort);
  const origin = { name: 'edgesight', sw_version: ctx.version };
  const availability = [{ topic: topics.availability, payload_available: 'online', payload_not_available: 'offline' }];

  const out: DiscoveryEntity[] = [];
  const add = (component: Component, what: string, fields: Record<string, unknown>): void => {
    const objectId = `${camera}_${what}`;
    const entityObjectId = `${devSlug}_${entitySlug(objectId)}`;
    out.push({
      component,
      objectId,
      topic: `${prefix}/${component}/${node}/${objectId}/config`,
      payload: {
        ...fields,
        unique_id: `edgesight_${node}_${objectId}`,
        // default_entity_id is what HA ≥ 2025.10 reads; object_id keeps older HA on the same entity id
        default_entity_id: `${component}.${entityObjectId}`,
        object_id: entityObjectId,
        availability,
        device,
        origin,
      },
    });
  };

  for (const label of c.objects.track) {
    const slug = labelSlug(label);
    const state = topics.objects(label);
    add('binary_sensor', `${slug}_occupancy`, {
      name: `${capitalise(label)} occupancy`,
      state_topic: state,
      // the payload is the retained count ("0", "2"): occupied when above zero
      value_template: "{{ 'ON' if (value | int(0)) > 0 else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      device_class: 'occupancy',
    });
    add('sensor', `${slug}_count`, {
      name: `${capitalise(label)} count`,
      state_topic: state,
      state_class: 'measurement',
      icon: 'mdi:counter',
    });
  }

  // zones: occupancy, a count per label, and the mask coverage per class when the segmenter runs
  const segmenterOn = c.models.segmenter !== null && c.segmentation.every > 0;
  for (const [zone, z] of Object.entries(c.zones ?? {})) {
    const zs = entitySlug(zone);
    const labels = z.labels.length ? z.labels : c.objects.track;
    add('binary_sensor', `zone_${zs}_occupancy`, {
      name: `${zone} occupancy`,
      state_topic: topics.zoneOccupied(zone),
      payload_on: 'ON',
      payload_off: 'OFF',
      device_class: 'occupancy',
    });
    for (const label of labels) {
      add('sensor', `zone_${zs}_${labelSlug(label)}_count`, {
        name: `${zone} ${label} count`,
        state_topic: topics.zoneCount(zone, label),
        state_class: 'measurement',
        icon: 'mdi:counter',
      });
    }
    if (segmenterOn) {
      for (const label of labels) {
        const cls = vocClassOf(label);
        if (!cls) continue;
        add('sensor', `zone_${zs}_${labelSlug(cls)}_coverage`, {
          name: `${zone} ${cls} coverage`,
          state_topic: topics.zoneCoverage(zone, cls),
          // the payload is a 0..1 share; HA shows percent
          value_template: '{{ (value | float(0) * 100) | round(0) }}',
          unit_of_measurement: '%',
          state_class: 'measurement',
          icon: 'mdi:texture-box',
        });
      }
    }
  }
  // lines: crossing totals (reset at midnight when reset: daily, which total_increasing reads as a new cycle)
  for (const line of Object.keys(c.lines ?? {})) {
    const ls = entitySlug(line);
    for (const direction of ['in', 'out'] as const) {
      add('sensor', `line_${ls}_${direction}`, {
        name: `${line} ${direction}`,
        state_topic: topics.lineCount(line, direction),
        state_class: 'total_increasing',
        icon: direction === 'in' ? 'mdi:login' : 'mdi:logout',
      });
    }
  }

  // stats arrive every stats_interval_s; after three missed periods the values are stale, not current
  const expireAfter = Math.ceil(3 * c.metrics.stats_interval_s);
  const stats = ctx.socTemperature ? [...STATS_SENSORS, SOC_TEMP] : STATS_SENSORS;
  for (const s of stats) {
    add('sensor', entitySlug(s.key), {
      name: s.name,
      state_topic: topics.stats,
      // a null in the payload renders as "None", which HA's MQTT sensor takes as "unknown"
      value_template: `{{ value_json.${s.key} }}`,
      unit_of_measurement: s.unit,
      state_class: 'measurement',
      entity_category: 'diagnostic',
      expire_after: expireAfter,
      ...(s.deviceClass ? { device_class: s.deviceClass } : {}),
      ...(s.icon ? { icon: s.icon } : {}),
    });
  }

  add('image', 'snapshot', {
    name: 'Snapshot',
    image_topic: topics.snapshot,
    content_type: 'image/jpeg',
  });
  add('button', 'snapshot_request', {
    name: 'Take snapshot',
    command_topic: topics.snapshotGet,
    payload_press: 'PRESS',
    icon: 'mdi:camera',
  });
  return out;
}
