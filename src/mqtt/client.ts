import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { assertPublishable } from './topics.js';
import type { ConnectionSettings } from './connection.js';
import { OutboundQueue, type OutboundMessage, type QueueClass } from './queue.js';

/** state: retained values (latest wins); event: must-deliver FIFO; stream: per-frame, drop-oldest; none: never queued */
export type MessageClass = QueueClass | 'none';

/** How to reach the broker (connection.ts) and what this publisher does with the connection. */
export interface ClientOptions extends ConnectionSettings {
  qos: { state: 0 | 1 | 2; stream: 0 | 1 | 2 };
  queueSize: number;
  will: { topic: string; payload: string };
  /** called on every (re)connect before the queue drains: republish availability and retained state */
  onConnect?: () => void;
  /** topics to subscribe to on every connect (e.g. snapshot/get) */
  subscriptions?: string[];
}

/**
 * Publishes handed to mqtt.js and not yet acknowledged (QoS 1/2) or written (QoS 0). Above this the
 * broker is not keeping up: stream messages are dropped and counted, state and events wait in the
 * bounded queue, so neither memory nor the pipeline depends on the broker's pace.
 */
export const MAX_INFLIGHT = 64;

export type ClientEvent =
  | { type: 'connected'; reconnect: boolean }
  | { type: 'disconnected'; reason: string }
  | { type: 'error'; message: string; code?: string }
  | { type: 'drop'; cls: MessageClass | 'backpressure'; topic: string }
  | { type: 'message'; topic: string; payload: Buffer };

/**
 * mqtt.js with a bounded outgoing queue of our own: mqtt.js's offline store is unbounded, so nothing is
 * handed to it while disconnected. Reconnects back off exponentially up to `reconnectMaxS`, so once the
 * broker is back, availability and retained state are republished within about that long.
 */
export class MqttPublisher extends EventEmitter {
  client: MqttClient;
  private readonly queue: OutboundQueue;
  private connectedOnce = false;
  private attempts = 0;
  private closing = false;
  /** sends handed to mqtt.js whose callback has not fired yet (not acknowledged / not written) */
  private inflight = 0;
  /** bumped on every (re)connect and reconfigure: callbacks of an earlier connection do not count */
  private generation = 0;
  /** drained from the queue but not yet sent: the in-flight window was full */
  private pending: OutboundMessage[] = [];

  constructor(private opts: ClientOptions) {
    super();
    this.queue = new OutboundQueue({ streamCapacity: opts.queueSize });
    this.client = this.connect();
  }

  private connect(): MqttClient {
    const opts = this.opts;
    const o: IClientOptions = {
      clientId: opts.clientId,
      keepalive: opts.keepaliveS,
      clean: true,
      protocolVersion: opts.protocolVersion,
      reconnectPeriod: 500,
      connectTimeout: 10_000,
      queueQoSZero: false,
      resubscribe: false,
      username: opts.username,
      password: opts.password,
      will: { topic: opts.will.topic, payload: Buffer.from(opts.will.payload), qos: opts.qos.state, retain: true },
      ...(opts.tls ? { ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key, rejectUnauthorized: opts.tls.rejectUnauthorized } : {}),
    };
    const client = mqtt.connect(opts.url, o);
    client.on('connect', () => {
      this.attempts = 0;
      this.generation++;
      this.inflight = 0;
      client.options.reconnectPeriod = 500;
      const reconnect = this.connectedOnce;
      this.connectedOnce = true;
      this.emit('event', { type: 'connected', reconnect } satisfies ClientEvent);
      if (opts.subscriptions?.length) {
        client.subscribe(opts.subscriptions, { qos: 0 }, (err) => {
          if (err) this.emit('event', { type: 'error', message: `subscribe failed: ${err.message}` } satisfies ClientEvent);
        });
      }
      opts.onConnect?.();
      this.drain();
    });
    client.on('message', (topic, payload) => this.emit('event', { type: 'message', topic, payload } satisfies ClientEvent));
    client.on('close', () => {
      if (this.closing || client !== this.client) return;
      // capped exponential backoff: 0.5 s, 1 s, 2 s … reconnect_max_s
      this.attempts++;
      client.options.reconnectPeriod = Math.min(opts.reconnectMaxS * 1000, 500 * 2 ** Math.min(this.attempts - 1, 10));
      this.emit('event', { type: 'disconnected', reason: 'connection closed' } satisfies ClientEvent);
    });
    client.on('error', (e: Error & { code?: string | number }) => {
      if (client !== this.client) return;
      this.emit('event', { type: 'error', message: e.message, code: e.code === undefined ? undefined : String(e.code) } satisfies ClientEvent);
    });
    return client;
  }

  /**
   * New connection settings (SIGHUP with a new password, URL or certificate): the current connection is
   * dropped without a will and a new one made; the outgoing queue is kept, so nothing queued is lost.
   */
  reconfigure(next: ConnectionSettings): void {
    if (this.closing) return;
    const old = this.client;
    this.opts = { ...this.opts, ...next };
    this.generation++;
    this.inflight = 0;
    this.attempts = 0;
    this.client = this.connect();
    old.removeAllListeners('message');
    old.end(true);
  }

  get connected(): boolean {
    return this.client.connected;
  }

  get queued(): number {
    return this.queue.size + this.pending.length;
  }

  get drops(): number {
    return this.queue.dropped;
  }

  /**
   * `cls` decides what happens while disconnected; `qos` which configured QoS applies (mqtt.qos.state or
   * mqtt.qos.stream), by default stream for stream/none messages and state otherwise. Periodic telemetry
   * such as stats is queued latest-value but sent at the stream QoS: the next one replaces a lost one.
   */
  publish(topic: string, payload: string | Buffer, opts: { retain?: boolean; cls: MessageClass; qos?: 'state' | 'stream' }): void {
    assertPublishable(topic);
    const qosClass = opts.qos ?? (opts.cls === 'stream' || opts.cls === 'none' ? 'stream' : 'state');
    const qos = this.opts.qos[qosClass];
    const msg: OutboundMessage = { topic, payload, retain: opts.retain ?? false, qos };
    const congested = this.inflight >= MAX_INFLIGHT;
    if (this.client.connected && this.queued === 0 && !congested) return this.send(msg);
    if (this.client.connected && congested && (opts.cls === 'stream' || opts.cls === 'none')) {
      // the broker (or the socket) is not keeping up: per-frame data is dropped rather than piled up
      this.emit('event', { type: 'drop', cls: 'backpressure', topic } satisfies ClientEvent);
      return;
    }
    if (opts.cls === 'none') {
      if (this.client.connected) return this.send(msg);
      this.emit('event', { type: 'drop', cls: 'none', topic } satisfies ClientEvent);
      return;
    }
    const before = this.queue.dropped;
    this.queue.push(msg, opts.cls);
    for (let i = before; i < this.queue.dropped; i++) this.emit('event', { type: 'drop', cls: opts.cls, topic } satisfies ClientEvent);
  }

  get inFlight(): number {
    return this.inflight;
  }

  private send(msg: OutboundMessage): void {
    const gen = this.generation;
    this.inflight++;
    this.client.publish(msg.topic, msg.payload, { qos: msg.qos, retain: msg.retain }, (err) => {
      if (gen === this.generation) {
        this.inflight--;
        if (this.queued > 0 && this.inflight <= MAX_INFLIGHT / 2 && this.client.connected) this.drain();
      }
      if (err && !this.closing)
        this.emit('event', { type: 'error', message: `publish to ${msg.topic} failed: ${err.message}` } satisfies ClientEvent);
    });
  }

  /** Hands queued messages to mqtt.js while the in-flight window has room; the rest wait for acks. */
  private drain(): void {
    // what an earlier drain could not send goes first; it is at most one queue's worth
    const batch = [...this.pending, ...this.queue.drain()];
    this.pending = [];
    for (let i = 0; i < batch.length; i++) {
      if (this.inflight >= MAX_INFLIGHT) {
        this.pending = batch.slice(i);
        return;
      }
      this.send(batch[i]!);
    }
  }

  /** Publish `final` (retained) on the will topic, flush, disconnect cleanly — all within `timeoutMs`. */
  async close(final?: { topic: string; payload: string }, timeoutMs = 2000): Promise<void> {
    this.closing = true;
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
      const t = setTimeout(() => this.client.end(true, {}, () => resolve()), timeoutMs);
      this.client.end(false, {}, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
