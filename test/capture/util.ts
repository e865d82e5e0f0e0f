import { existsSync, readFileSync } from 'node:fs';
import type { SourceEvent } from '../../src/capture/frame.js';

/** Deterministic PRNG (mulberry32) so a failing random case can be replayed from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A pid is "alive" while /proc has it, zombies included: an unreaped child counts as a leak. */
export const pidAlive = (pid: number): boolean => existsSync(`/proc/${pid}`);

/** Running (not exited): for orphans, whose reaping is init's job, not ours. */
export function pidRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls until `cond` holds; fails after `timeoutMs` (a generous bound, not a performance threshold). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export class EventLog {
  readonly events: SourceEvent[] = [];
  readonly pids: number[] = [];
  readonly onEvent = (ev: SourceEvent): void => {
    this.events.push(ev);
  };
  readonly onSpawn = (pid: number): void => {
    this.pids.push(pid);
  };
  of<T extends SourceEvent['type']>(type: T): Extract<SourceEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<SourceEvent, { type: T }> => e.type === type);
  }
  get hooks(): { onEvent: (ev: SourceEvent) => void; onSpawn: (pid: number) => void } {
    return { onEvent: this.onEvent, onSpawn: this.onSpawn };
  }
}
