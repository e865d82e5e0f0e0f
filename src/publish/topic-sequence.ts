/**
 * `seq` of every JSON payload: a per-topic counter starting at 1 when the daemon starts, so a consumer
 * sees a gap (a dropped QoS 0 message, a queue overflow while offline) as a jump in `seq`, and a restart
 * as `seq` going back to 1.
 */
export class TopicSequence {
  private readonly counters = new Map<string, number>();

  next(topic: string): number {
    const n = (this.counters.get(topic) ?? 0) + 1;
    this.counters.set(topic, n);
    return n;
  }

  /** `payload` with `seq` placed right after `v` (the first two fields a person reading it looks at). */
  stamp<T extends { v: number }>(topic: string, payload: T): T & { seq: number } {
    const { v, ...rest } = payload;
    return { v, seq: this.next(topic), ...rest } as unknown as T & { seq: number };
  }
}
