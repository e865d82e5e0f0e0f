import type { LoadedConfig, Config } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import { redactUrlCredentials } from '../config/redact.js';
import { ConfigError } from '../config/errors.js';
import { MqttPublisher, type ClientEvent } from '../mqtt/client.js';
import { connectionProblems, connectionSettings, readPassword, type ConnectionSettings } from '../mqtt/connection.js';
import { describeMqttError } from '../mqtt/errors.js';
import type { CameraTopics } from '../mqtt/topics.js';
import type { Component, StopBudget } from './component.js';
import type { DaemonEvent } from './event-table.js';
import type { ReloadPlan } from './reload.js';

export interface MqttComponentDeps {
  lc: () => LoadedConfig;
  topics: CameraTopics;
  log: Logger;
  /** the embedded broker's URL when one was started (mqtt.url null) */
  embeddedUrl: () => string | null;
  /** topics to subscribe to besides snapshot/get (Home Assistant's) */
  subscriptions: () => string[];
  /** on every (re)connect: availability, info and retained state */
  onConnect: () => void;
  onMessage: (topic: string, payload: Buffer) => void;
  events: (ev: DaemonEvent) => void;
  stopping: () => boolean;
}

/**
 * The MQTT connection: the publisher with its bounded queue, connected with the settings of
 * mqtt/connection.ts; on SIGHUP it reconnects when a connection key or the password file's contents
 * changed (the queue is kept). Client events become daemon events: an error is described once per change,
 * "lost" only after a connection was up.
 */
export class MqttComponent implements Component {
  readonly name = 'mqtt';
  publisher: MqttPublisher | null = null;
  private url = '';
  private lastError = '';
  private up = false;
  /** the password the client connects with now (from mqtt.password or mqtt.password_file) */
  private password: string | undefined;

  constructor(private readonly deps: MqttComponentDeps) {}

  private get config(): Config {
    return this.deps.lc().config;
  }

  async start(): Promise<void> {
    const { lc, log, topics } = this.deps;
    const m = this.config.mqtt;
    const embedded = this.deps.embeddedUrl();
    let url = m.url;
    if (!url && embedded) {
      url = embedded;
      log.warn({ url }, `mqtt.url is not set: started an EMBEDDED broker on ${url} (demo mode; point mqtt.url at your broker for real use)`);
    }
    if (!url) throw new Error('no MQTT broker: mqtt.url is null and the embedded broker did not start');
    const settings = connectionSettings(this.config, lc().dir, { url, embedded: embedded !== null });
    const problems = connectionProblems(this.config, lc().dir, settings);
    if (problems.length) {
      const err = new ConfigError(lc().file, problems);
      err.message = err.format(); // run.ts logs the message: name every problem, not just their count
      throw err;
    }
    this.password = settings.password;
    this.url = url;
    this.publisher = new MqttPublisher({
      ...settings,
      qos: m.qos,
      queueSize: m.queue_size,
      will: { topic: topics.availability, payload: 'offline' },
      onConnect: () => this.deps.onConnect(),
      subscriptions: [topics.snapshotGet, ...this.deps.subscriptions()],
    });
    this.publisher.on('event', (ev: ClientEvent) => this.onClientEvent(ev));
  }

  private onClientEvent(ev: ClientEvent): void {
    const url = redactUrlCredentials(this.url);
    switch (ev.type) {
      case 'connected':
        this.lastError = '';
        this.up = true;
        return this.deps.events({ origin: 'mqtt', type: 'connected', reconnect: ev.reconnect, url });
      case 'disconnected': {
        // "connection lost" only after a connection: a failing connect is already logged once as an error
        const wasUp = this.up;
        this.up = false;
        if (wasUp) this.deps.events({ origin: 'mqtt', type: 'lost', url });
        return;
      }
      case 'error': {
        const m = this.config.mqtt;
        const text = describeMqttError(ev.message, ev.code, this.url, {
          username: m.username,
          hasPassword: this.password !== undefined,
          hasClientCert: Boolean(m.cert),
        });
        // the same failure repeats on every retry: tell it once until something changes
        if (text !== this.lastError) this.deps.events({ origin: 'mqtt', type: 'error', text, err: ev.message, url });
        this.lastError = text;
        return;
      }
      case 'drop':
        return this.deps.events({ origin: 'mqtt', type: 'drop', cls: ev.cls });
      case 'message':
        return this.deps.onMessage(ev.topic, ev.payload);
    }
  }

  /**
   * A rotated secret may live only in mqtt.password_file: it is re-read on every reload. Throws, naming
   * the file, when one cannot be read: the caller then refuses the reload whole.
   */
  applyConfig(next: Config, plan: ReloadPlan): void {
    const conn = this.connectionChange(next, plan.reconnect.length > 0);
    if (!conn) return;
    this.deps.log.info(
      { url: redactUrlCredentials(conn.url), changed: plan.reconnect.length ? plan.reconnect : ['mqtt.password_file (contents)'] },
      'MQTT connection settings changed: reconnecting with the new ones',
    );
    this.url = conn.url;
    this.lastError = '';
    this.publisher!.reconfigure(conn);
  }

  /** true when the last applyConfig reconnected */
  reconnected = false;

  private connectionChange(next: Config, forced: boolean): ConnectionSettings | null {
    this.reconnected = false;
    if (this.deps.embeddedUrl() !== null || !this.publisher) return null;
    const dir = this.deps.lc().dir;
    const password = readPassword(next.mqtt, dir);
    if (!forced && password === this.password) return null;
    const settings = connectionSettings(next, dir, { url: next.mqtt.url!, embedded: false });
    this.password = settings.password;
    this.reconnected = true;
    return settings;
  }

  async stop(budget: StopBudget): Promise<void> {
    await this.publisher?.close(
      { topic: this.deps.topics.availability, payload: 'offline' },
      Math.max(200, Math.min(1500, budget.deadline - Date.now())),
    );
  }
}
