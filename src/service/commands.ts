import type { Logger } from '../logging/logger.js';
import type { CounterName } from '../metrics/stats-schema.js';
import type { HomeAssistantDiscovery } from '../homeassistant/discovery.js';
import type { CameraTopics } from '../mqtt/topics.js';
import type { Component } from './component.js';
import type { ResultPublisher } from '../publish/result-publisher.js';

/** a snapshot request's payload is ignored: anything longer than this is not a request but abuse */
const MAX_SNAPSHOT_GET_BYTES = 1024;
/** Home Assistant's birth/last-will messages are "online"/"offline" */
const MAX_HA_STATUS_BYTES = 64;
/** Home Assistant restarting announces itself once; a flood of "online" republishes discovery at most this often */
const HA_REPUBLISH_MS = 5000;

export interface CommandDeps {
  topics: CameraTopics;
  log: Logger;
  inc: (c: CounterName) => void;
  outputs: () => ResultPublisher | null;
  ha: () => HomeAssistantDiscovery | null;
  /** repeated warnings are logged once per 10 s (the daemon's event router) */
  throttle: (key: string, log: (suppressed: number) => void) => void;
}

/**
 * Everything the daemon subscribes to arrives here from the network, so nothing in a payload is
 * trusted: the size is checked before anything else, and each kind of request costs a bounded amount
 * of work however fast it comes (snapshots: mqtt.snapshot.max_rate_hz and one render at a time;
 * Home Assistant's "online": one republish per HA_REPUBLISH_MS, a flood coalesced into one).
 */
export class CommandHandler implements Component {
  readonly name = 'commands';
  private haRepublishedAt = -Infinity;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly deps: CommandDeps) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  onMessage(topic: string, payload: Buffer): void {
    const { topics, log, inc } = this.deps;
    const ha = this.deps.ha();
    const isSnapshot = topic === topics.snapshotGet;
    const isHaStatus = ha !== null && topic === ha.statusTopic;
    if (!isSnapshot && !isHaStatus) {
      // retained discovery configs read back to remove stale entities: bounded (one publish at most)
      ha?.onMessage(topic, payload);
      return;
    }
    inc('commands_received');
    const limit = isSnapshot ? MAX_SNAPSHOT_GET_BYTES : MAX_HA_STATUS_BYTES;
    if (payload.length > limit) {
      inc('commands_rejected');
      this.deps.throttle(`command:${topic}`, (n) =>
        log.warn(
          { topic, bytes: payload.length, limit, ...(n ? { similar_since_last: n } : {}) },
          `ignored an oversized message on ${topic} (${payload.length} bytes, at most ${limit})`,
        ),
      );
      return;
    }
    if (isSnapshot) {
      const outputs = this.deps.outputs();
      const refusedBefore = outputs?.snapshotsRefused ?? 0;
      const p = outputs?.onSnapshotRequest();
      if ((outputs?.snapshotsRefused ?? 0) > refusedBefore) inc('commands_rate_limited');
      void p?.catch((e: Error) => log.error({ err: e.message }, 'snapshot failed'));
      return;
    }
    const status = payload.toString('utf8').trim();
    if (status !== 'online' && status !== 'offline') {
      inc('commands_rejected');
      this.deps.throttle(`command:${topic}`, (n) =>
        log.warn({ topic, ...(n ? { similar_since_last: n } : {}) }, `ignored a message on ${topic} that is neither "online" nor "offline"`),
      );
      return;
    }
    if (status === 'offline') return;
    const now = Date.now();
    if (now - this.haRepublishedAt >= HA_REPUBLISH_MS) {
      this.haRepublishedAt = now;
      ha!.onMessage(topic, payload);
      return;
    }
    inc('commands_rate_limited');
    this.timer ??= setTimeout(
      () => {
        this.timer = null;
        if (this.stopped) return;
        this.haRepublishedAt = Date.now();
        this.deps.ha()?.onMessage(topic, Buffer.from('online'));
      },
      HA_REPUBLISH_MS - (now - this.haRepublishedAt),
    );
    this.timer.unref();
  }
}
