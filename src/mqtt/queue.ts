/**
 * What the publisher holds while the broker is unreachable. Bounded three ways, because each kind of
 * message loses value differently while it waits:
 *  - `latest` (retained state such as info and objects/<label>, and stats): only the newest value per topic
 *    matters; an older one is superseded, not lost.
 *  - `event` (events): each one matters; a small FIFO of its own so a flood of frames cannot push them out;
 *    it drops its oldest only when it is itself full.
 *  - `stream` (detections, masks): per-frame data that goes stale; FIFO, drops oldest.
 * drain() returns state first (so subscribers see current state before history), then events and stream
 * messages interleaved in the order they were queued.
 */
export type QueueClass = 'latest' | 'event' | 'stream';

export interface OutboundMessage {
  topic: string;
  payload: Buffer | string;
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface QueueOptions {
  /** `mqtt.queue_size`: stream messages kept */
  streamCapacity: number;
  /** events kept (default: min(streamCapacity, 256)) */
  eventCapacity?: number;
  /** distinct latest-value topics kept (default 1024) */
  latestCapacity?: number;
}

export interface QueueDrops {
  stream: number;
  event: number;
  latest: number;
  /** latest-value messages replaced by a newer value for the same topic (not a loss of state) */
  superseded: number;
}

export class QueueError extends Error {
  override name = 'QueueError';
}

interface Seq {
  seq: number;
  msg: OutboundMessage;
}

/** Fixed-capacity FIFO over a ring buffer: O(1) push and drop-oldest. */
class Ring {
  private readonly buf: Array<Seq | undefined>;
  private head = 0;
  size = 0;
  constructor(readonly capacity: number) {
    this.buf = new Array<Seq | undefined>(capacity);
  }
  /** Returns true if the oldest entry was dropped to make room. */
  push(e: Seq): boolean {
    if (this.capacity === 0) return true;
    if (this.size < this.capacity) {
      this.buf[(this.head + this.size++) % this.capacity] = e;
      return false;
    }
    this.buf[this.head] = e;
    this.head = (this.head + 1) % this.capacity;
    return true;
  }
  take(): Seq[] {
    const out: Seq[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.buf[(this.head + i) % this.capacity]!);
    this.buf.fill(undefined);
    this.head = 0;
    this.size = 0;
    return out;
  }
}

function checkCapacity(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new QueueError(`${name} must be an integer >= 0, got ${String(v)}`);
  return v;
}

export class OutboundQueue {
  private readonly stream: Ring;
  private readonly events: Ring;
  private readonly latestCapacity: number;
  /** insertion order = order of last update (a Map re-inserted on update) */
  private readonly latest = new Map<string, OutboundMessage>();
  private seq = 0;
  readonly drops: QueueDrops = { stream: 0, event: 0, latest: 0, superseded: 0 };

  constructor(opts: QueueOptions) {
    const s = checkCapacity('mqtt.queue_size', opts.streamCapacity);
    this.stream = new Ring(s);
    this.events = new Ring(checkCapacity('event queue capacity', opts.eventCapacity ?? Math.min(s, 256)));
    this.latestCapacity = checkCapacity('latest-value queue capacity', opts.latestCapacity ?? 1024);
  }

  get size(): number {
    return this.stream.size + this.events.size + this.latest.size;
  }

  /** Total messages lost (superseded latest values are not counted: their topic's state is still queued). */
  get dropped(): number {
    return this.drops.stream + this.drops.event + this.drops.latest;
  }

  push(msg: OutboundMessage, cls: QueueClass): void {
    switch (cls) {
      case 'latest': {
        if (this.latest.has(msg.topic)) {
          this.latest.delete(msg.topic);
          this.drops.superseded++;
        } else if (this.latest.size >= this.latestCapacity) {
          // Least recently updated topic goes; only reachable with more topics than any real config has.
          const oldest = this.latest.keys().next();
          if (!oldest.done) this.latest.delete(oldest.value);
          this.drops.latest++;
          if (this.latestCapacity === 0) return;
        }
        this.latest.set(msg.topic, msg);
        return;
      }
      case 'event':
        if (this.events.push({ seq: this.seq++, msg })) this.drops.event++;
        return;
      case 'stream':
        if (this.stream.push({ seq: this.seq++, msg })) this.drops.stream++;
        return;
      default:
        throw new QueueError(`unknown queue class ${JSON.stringify(cls)}`);
    }
  }

  /** Empties the queue: latest values first (in update order), then events and stream messages in queued order. */
  drain(): OutboundMessage[] {
    const state = [...this.latest.values()];
    this.latest.clear();
    const ev = this.events.take();
    const st = this.stream.take();
    const merged: OutboundMessage[] = [];
    let i = 0;
    let j = 0;
    while (i < ev.length || j < st.length) {
      if (j >= st.length || (i < ev.length && ev[i]!.seq < st[j]!.seq)) merged.push(ev[i++]!.msg);
      else merged.push(st[j++]!.msg);
    }
    return [...state, ...merged];
  }
}
