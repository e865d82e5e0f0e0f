import type { Config } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import type { ReloadPlan } from './reload.js';

/** How long a stop may take: every part's own bound comes from these. */
export interface StopBudget {
  /** Date.now() by which the whole stop must be over */
  deadline: number;
  /** the whole stop's bound, ms */
  totalMs: number;
}

/**
 * One part of the running daemon (models, inference engine, MQTT connection, result publisher, …).
 * `start` acquires what the part holds (processes, threads, sockets, timers), `stop` gives it back,
 * `applyConfig` takes a SIGHUP's merged config over (only the keys the plan applied changed).
 */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  stop(budget: StopBudget): Promise<void>;
  applyConfig?(next: Config, plan: ReloadPlan): void;
}

/**
 * Starts components in order and stops the started ones in reverse, so each part stops while what it
 * uses is still there. A part whose start failed half-way is stopped too (it may hold something). A
 * failing stop does not keep the others from stopping; the first error is rethrown at the end.
 */
export class ComponentRunner {
  private readonly started: Component[] = [];

  constructor(
    private readonly parts: readonly Component[],
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    for (const c of this.parts) {
      this.started.push(c);
      await c.start();
    }
  }

  /** In start order: a part that refuses the new config (throws) leaves the ones after it untouched. */
  applyConfig(next: Config, plan: ReloadPlan): void {
    for (const c of this.started) c.applyConfig?.(next, plan);
  }

  async stop(budget: StopBudget): Promise<void> {
    let first: unknown;
    for (const c of this.started.splice(0).reverse()) {
      try {
        await c.stop(budget);
      } catch (e) {
        this.log.error({ component: c.name, err: (e as Error).message }, `stopping ${c.name} failed`);
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
  }
}
