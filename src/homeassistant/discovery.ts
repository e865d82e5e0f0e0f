import { readdirSync, readFileSync } from 'node:fs';
import { crossFieldProblems } from '../config/cross-checks.js';
import path from 'node:path';
import type { Logger } from '../logging/logger.js';
import type { Config } from '../config/types.js';
import type { ConfigProblem } from '../config/errors.js';
import type { CameraTopics } from '../mqtt/topics.js';
import type { MessageClass } from '../mqtt/client.js';
import { buildEntities, type DiscoveryEntity } from './entities.js';

export { buildEntities, configurationUrl, entitySlug, type DiscoveryEntity } from './entities.js';

/** The part of MqttPublisher discovery needs (tests pass a recorder). */
export interface DiscoveryPublisher {
  publish(topic: string, payload: string | Buffer, opts: { retain?: boolean; cls: MessageClass }): void;
}

export interface HomeAssistantOptions {
  /** a getter follows SIGHUP reloads (objects.track can change live) */
  config: Config | (() => Config);
  topics: CameraTopics;
  publisher: DiscoveryPublisher;
  log: Logger;
  /** bound port of the Prometheus endpoint; default metrics.http.port when enabled and not 0 (0: see setMetricsHttpPort) */
  metricsHttpPort?: number;
  /** publish the SoC temperature sensor; default: a thermal zone is readable under /sys/class/thermal */
  socTemperature?: boolean;
  version: string;
}

/**
 * Home Assistant MQTT discovery for one camera instance: retained configs under
 * `<prefix>/<component>/<device.id>/<camera>_<what>/config`, republished on every connect and when HA
 * announces itself on `<prefix>/status`.
 *
 * Removing entities that are no longer configured: the retained configs on the broker are the record.
 * We stay subscribed to `<prefix>/+/<device.id>/+/config`; the broker replays every retained config of
 * this node on subscribe, and any non-empty one of this camera that is not in the current set is cleared
 * with an empty retained payload. That needs no timing window, no state file (which would be wrong after
 * a broker change or a restored SD card) and no extra topic, and it also catches what an older version
 * or an earlier config published. Configs of other cameras sharing the device id (prefix `<camera>_`
 * differs) are left alone.
 */
export class HomeAssistantDiscovery {
  private readonly getConfig: () => Config;
  private metricsHttpPort: number | undefined;
  private readonly socTemperature: boolean;
  /** config topics published by this process, to clear at once what a reload dropped */
  private published = new Set<string>();
  private current = new Map<string, DiscoveryEntity>();

  constructor(private readonly opts: HomeAssistantOptions) {
    const c = opts.config;
    this.getConfig = typeof c === 'function' ? c : () => c;
    // a fixed port is known before the endpoint binds: the first publish already has configuration_url
    const http = this.getConfig().metrics.http;
    this.metricsHttpPort = opts.metricsHttpPort ?? (http.enabled && http.port > 0 ? http.port : undefined);
    this.socTemperature = opts.socTemperature ?? hasSocTemperature();
    const problems = homeAssistantConfigProblems(this.getConfig());
    if (problems.length) throw new Error(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
  }

  private get prefix(): string {
    return this.getConfig().mqtt.homeassistant.discovery_prefix;
  }

  private get node(): string {
    return this.getConfig().device.id;
  }

  /** HA's birth/will topic, and this node's retained configs (replayed by the broker on subscribe). */
  subscriptions(): string[] {
    return [this.statusTopic, `${this.prefix}/+/${this.node}/+/config`];
  }

  get statusTopic(): string {
    return `${this.prefix}/status`;
  }

  /** The entities the current config asks for. */
  entities(): DiscoveryEntity[] {
    return buildEntities({
      config: this.getConfig(),
      topics: this.opts.topics,
      version: this.opts.version,
      metricsHttpPort: this.metricsHttpPort,
      socTemperature: this.socTemperature,
    });
  }

  /** Publish every config (retained, state QoS); clear what this process published before and no longer wants. */
  publishAll(): void {
    const entities = this.entities();
    this.current = new Map(entities.map((e) => [e.topic, e]));
    for (const e of entities) {
      this.opts.publisher.publish(e.topic, JSON.stringify(e.payload), { retain: true, cls: 'latest' });
      this.published.add(e.topic);
    }
    for (const t of this.published) {
      if (!this.current.has(t)) this.remove(t);
    }
    this.opts.log.debug({ entities: entities.length, prefix: this.prefix }, 'Home Assistant discovery published');
  }

  /** After the metrics endpoint is bound: the device gets its configuration_url. */
  setMetricsHttpPort(port: number | undefined): void {
    if (port === this.metricsHttpPort) return;
    this.metricsHttpPort = port;
    if (this.current.size) this.publishAll();
  }

  /** Route every incoming message here; returns true when it was one of ours. */
  onMessage(topic: string, payload: Buffer): boolean {
    if (topic === this.statusTopic) {
      const status = payload.toString().trim();
      if (status === 'online') {
        this.opts.log.info({ topic }, 'Home Assistant came online: republishing discovery');
        this.publishAll();
      }
      return true;
    }
    const m = this.parseConfigTopic(topic);
    if (!m) return false;
    if (payload.length === 0 || this.current.has(topic)) return true;
    // before the first publishAll nothing is "current" yet: wait rather than clear everything
    if (this.current.size === 0) return true;
    if (!m.objectId.startsWith(`${this.getConfig().camera.name}_`)) return true;
    this.remove(topic);
    return true;
  }

  private remove(topic: string): void {
    this.published.delete(topic);
    this.opts.publisher.publish(topic, '', { retain: true, cls: 'latest' });
    this.opts.log.info({ topic }, 'removed a Home Assistant entity that is no longer configured');
  }

  private parseConfigTopic(topic: string): { component: string; objectId: string } | null {
    const head = `${this.prefix}/`;
    if (!topic.startsWith(head) || !topic.endsWith('/config')) return null;
    const parts = topic.slice(head.length).split('/');
    if (parts.length !== 4 || parts[1] !== this.node) return null;
    return { component: parts[0]!, objectId: parts[2]! };
  }
}

/**
 * Cross-field checks of mqtt.homeassistant (JSON Schema cannot compare two keys). With the discovery
 * prefix equal to, inside, or around the base topic, HA would parse edgesight's own state topics as
 * discovery and edgesight's cleanup could meet HA's topics (zigbee2mqtt refuses the same).
 */
export function homeAssistantConfigProblems(c: Config): ConfigProblem[] {
  return crossFieldProblems(c).filter((p) => p.path.startsWith('mqtt.homeassistant.'));
}

/** A readable SoC temperature exists (the stats' soc_temp_c will not be null). */
export function hasSocTemperature(root = '/'): boolean {
  const base = path.join(root, 'sys/class/thermal');
  let zones: string[];
  try {
    zones = readdirSync(base).filter((n) => /^thermal_zone\d+$/.test(n));
  } catch {
    return false;
  }
  return zones.some((z) => {
    try {
      return Number.isFinite(Number(readFileSync(path.join(base, z, 'temp'), 'utf8').trim()));
    } catch {
      return false;
    }
  });
}
