import { Observable, type OperatorFunction } from 'rxjs';

/**
 * Drop-if-busy with a one-item mailbox: while `work` runs, the newest arrival waits and any older
 * waiting item is dropped (reported through `onDrop`). Memory is bounded at one in flight + one waiting,
 * so a slow stage never builds a queue and never falls behind the camera. When `work` ends, the waiting
 * item starts first and the result is emitted after.
 * Errors from `work` are handed to `onError` and the stream goes on (errors are caught inside).
 */
export function latestWhileBusy<T, R>(
  work: (item: T) => Promise<R | null>,
  hooks: { onDrop?: (dropped: T) => void; onError?: (err: unknown, item: T) => void } = {},
): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((sub) => {
      let busy = false;
      let pending: { item: T } | null = null;
      let sourceDone = false;
      // the waiting item starts before this result goes downstream, so what runs downstream
      // (post-processing, publishing) overlaps the next item's work instead of delaying it
      const done = (): void => {
        busy = false;
        if (sub.closed || !pending) return;
        const next = pending.item;
        pending = null;
        run(next);
      };
      const run = (item: T): void => {
        busy = true;
        work(item).then(
          (r) => {
            done();
            if (r !== null && !sub.closed) sub.next(r);
            if (!busy && !pending && sourceDone && !sub.closed) sub.complete();
          },
          (e: unknown) => {
            done();
            hooks.onError?.(e, item);
            if (!busy && !pending && sourceDone && !sub.closed) sub.complete();
          },
        );
      };
      const inner = source.subscribe({
        next: (item) => {
          if (!busy) return run(item);
          if (pending) hooks.onDrop?.(pending.item);
          pending = { item };
        },
        error: (e: unknown) => sub.error(e),
        complete: () => {
          sourceDone = true;
          if (!busy && !pending) sub.complete();
        },
      });
      return () => inner.unsubscribe();
    });
}

/**
 * Drop-if-busy with up to `concurrency` items in flight and no waiting room: an arrival while all slots
 * are busy is dropped (`onDrop`). Results leave in arrival order of their inputs; a result that finishes
 * after a newer one was already emitted is stale and dropped too, so downstream never goes back in time.
 */
export function dropIfBusy<T, R>(
  work: (item: T) => Promise<R>,
  hooks: { concurrency: number; onDrop?: (dropped: T) => void; onError?: (err: unknown, item: T) => void },
): OperatorFunction<T, R> {
  const slots = Math.max(1, Math.floor(hooks.concurrency));
  return (source) =>
    new Observable<R>((sub) => {
      let running = 0;
      let seq = 0;
      let lastEmitted = -1;
      let sourceDone = false;
      const inner = source.subscribe({
        next: (item) => {
          if (running >= slots) return hooks.onDrop?.(item);
          const n = seq++;
          running++;
          work(item)
            .then(
              (r) => {
                if (sub.closed) return;
                if (n < lastEmitted) return hooks.onDrop?.(item);
                lastEmitted = n;
                sub.next(r);
              },
              (e: unknown) => hooks.onError?.(e, item),
            )
            .finally(() => {
              running--;
              if (sourceDone && running === 0 && !sub.closed) sub.complete();
            });
        },
        error: (e: unknown) => sub.error(e),
        complete: () => {
          sourceDone = true;
          if (running === 0) sub.complete();
        },
      });
      return () => inner.unsubscribe();
    });
}
