import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { assertPublishable } from './topics.js';

export type MessageClass = 'state' | 'stream' | 'event';

export interface OutMessage {
  topic: string;
  payload: string | Buffer;
  retain: boolean;
  cls: MessageClass;
}

export interface ClientOptions {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  keepaliveS: number;
  protocolVersion: 4 | 5;
  reconnectMaxS: number;
  qos: { state: 0 | 1 | 2; stream: 0 | 1 | 2 };
  queueSize: number;
  will: { topic: string; payload: string };
  /** TLS material, already read from files */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
  /** called on every (re)connect: republish availability and retained state */
  onConnect?: () => void;
}

export type ClientEvent =
  | { type: 'connected'; reconnect: boolean }
  | { type: 'disconnected'; reason: string }
  | { type: 'error'; message: string }
  | { type: 'drop'; cls: MessageClass; topic: string };

/**
 * mqtt.js with a bounded outgoing queue of our own: mqtt.js's offline store is unbounded, so nothing is
 * handed to it while disconnected. Streams drop their oldest message when the queue is full; retained
 * state keeps only the latest value per topic (it is republished on connect anyway).
 */
export class MqttPublisher extends EventEmitter {
  readonly client: MqttClient;
  private readonly state = new Map<string, OutMessage>();
  private readonly streams: OutMessage[] = [];
  private connectedOnce = false;
  private attempts = 0;
  drops = 0;

  constructor(private readonly opts: ClientOptions) {
    super();
    const o: IClientOptions = {
      clientId: opts.clientId,
      keepalive: opts.keepaliveS,
      clean: true,
      protocolVersion: opts.protocolVersion,
      reconnectPeriod: 500,
      connectTimeout: 10_000,
      queueQoSZero: false,
      username: opts.username,
      password: opts.password,
      will: { topic: opts.will.topic, payload: Buffer.from(opts.will.payload), qos: opts.qos.state, retain: true },
      ...(opts.tls ? { ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key, rejectUnauthorized: opts.tls.rejectUnauthorized } : {}),
    };
    this.client = mqtt.connect(opts.url, o);
    this.client.on('connect', () => {
      this.attempts = 0;
      this.client.options.reconnectPeriod = 500;
      const reconnect = this.connectedOnce;
      this.connectedOnce = true;
      this.emit('event', { type: 'connected', reconnect } satisfies ClientEvent);
      opts.onConnect?.();
      this.drain();
    });
    this.client.on('close', () => {
      // capped exponential backoff: 0.5 s, 1 s, 2 s … reconnect_max_s
      this.attempts++;
      this.client.options.reconnectPeriod = Math.min(opts.reconnectMaxS * 1000, 500 * 2 ** Math.min(this.attempts, 10));
      this.emit('event', { type: 'disconnected', reason: 'connection closed' } satisfies ClientEvent);
    });
    this.client.on('error', (e) => this.emit('event', { type: 'error', message: e.message } satisfies ClientEvent));
  }

  get connected(): boolean {
    return this.client.connected;
  }

  get queued(): number {
    return this.state.size + this.streams.length;
  }

  publish(topic: string, payload: string | Buffer, opts: { retain?: boolean; cls: MessageClass }): void {
    assertPublishable(topic);
    const msg: OutMessage = { topic, payload, retain: opts.retain ?? false, cls: opts.cls };
    if (this.client.connected && this.queued === 0) return this.send(msg);
    this.enqueue(msg);
  }

  private enqueue(msg: OutMessage): void {
    if (msg.cls === 'state') {
      this.state.set(msg.topic, msg);
      return;
    }
    this.streams.push(msg);
    while (this.state.size + this.streams.length > this.opts.queueSize && this.streams.length) {
      const dropped = this.streams.shift()!;
      this.drops++;
      this.emit('event', { type: 'drop', cls: dropped.cls, topic: dropped.topic } satisfies ClientEvent);
    }
  }

  private send(msg: OutMessage): void {
    const qos = msg.cls === 'stream' ? this.opts.qos.stream : this.opts.qos.state;
    this.client.publish(msg.topic, msg.payload, { qos, retain: msg.retain }, (err) => {
      if (err) this.emit('event', { type: 'error', message: `publish to ${msg.topic} failed: ${err.message}` } satisfies ClientEvent);
    });
  }

  private drain(): void {
    const state = [...this.state.values()];
    this.state.clear();
    const streams = this.streams.splice(0);
    for (const m of [...state, ...streams]) this.send(m);
  }

  /** Publish `payload` on the will topic, flush, disconnect cleanly. */
  async close(final?: { topic: string; payload: string }, timeoutMs = 2000): Promise<void> {
    if (final && this.client.connected) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.client.publish(final.topic, final.payload, { qos: this.opts.qos.state, retain: true }, () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.client.end(true, {}, () => resolve());
      }, timeoutMs);
      this.client.end(false, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
