import { Observable, type OperatorFunction } from 'rxjs';

/**
 * Drop-if-busy with a one-item mailbox: while `work` runs, the newest arrival waits and any older
 * waiting item is dropped (reported through `onDrop`). Memory is bounded at one in flight + one waiting,
 * so a slow stage never builds a queue and never falls behind the camera.
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
      const run = (item: T): void => {
        busy = true;
        work(item)
          .then(
            (r) => {
              if (r !== null && !sub.closed) sub.next(r);
            },
            (e: unknown) => hooks.onError?.(e, item),
          )
          .finally(() => {
            busy = false;
            if (sub.closed) return;
            if (pending) {
              const next = pending.item;
              pending = null;
              run(next);
            } else if (sourceDone) sub.complete();
          });
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
