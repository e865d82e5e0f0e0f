import assert from 'node:assert/strict';
import { Subject, lastValueFrom, tap, toArray } from 'rxjs';
import { dropIfBusy, latestWhileBusy } from '../../src/pipeline/operators.js';

/** A promise per item that the test settles by hand, so ordering is scripted, not timed. */
function gate<T>() {
  const open = new Map<T, { resolve: () => void; reject: (e: Error) => void }>();
  const started: T[] = [];
  const work = (item: T): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      started.push(item);
      open.set(item, { resolve: () => resolve(item), reject });
    });
  return {
    work,
    started,
    finish: (item: T) => open.get(item)!.resolve(),
    fail: (item: T) => open.get(item)!.reject(new Error(`boom ${String(item)}`)),
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('pipeline operators', () => {
  it('latestWhileBusy keeps one waiting item, drops older waiting ones, and goes on after an error', async () => {
    const src = new Subject<number>();
    const g = gate<number>();
    const dropped: number[] = [];
    const errors: number[] = [];
    const out = lastValueFrom(src.pipe(latestWhileBusy(g.work, { onDrop: (d) => dropped.push(d), onError: (_e, i) => errors.push(i) }), toArray()));
    src.next(1); // runs
    src.next(2); // waits
    src.next(3); // replaces 2
    src.next(4); // replaces 3
    assert.deepEqual(g.started, [1]);
    assert.deepEqual(dropped, [2, 3]);
    g.fail(1);
    await tick();
    assert.deepEqual(g.started, [1, 4], 'the newest waiting item runs next');
    src.complete();
    g.finish(4);
    assert.deepEqual(await out, [4]);
    assert.deepEqual(errors, [1]);
  });

  it('latestWhileBusy starts the waiting item before it emits the finished one (downstream work overlaps the next run)', async () => {
    const src = new Subject<number>();
    const g = gate<number>();
    const startedWhenEmitted: number[][] = [];
    const out = lastValueFrom(
      src.pipe(
        latestWhileBusy(g.work),
        tap(() => startedWhenEmitted.push([...g.started])),
        toArray(),
      ),
    );
    src.next(1);
    src.next(2); // waits
    g.finish(1);
    await tick();
    assert.deepEqual(startedWhenEmitted, [[1, 2]], 'item 2 was already running when result 1 went downstream');
    src.complete();
    g.finish(2);
    assert.deepEqual(await out, [1, 2]);
    assert.deepEqual(startedWhenEmitted, [
      [1, 2],
      [1, 2],
    ]);
  });

  it('dropIfBusy runs up to N at once, drops arrivals when full, and never emits an older result after a newer one', async () => {
    const src = new Subject<number>();
    const g = gate<number>();
    const dropped: number[] = [];
    const out = lastValueFrom(src.pipe(dropIfBusy(g.work, { concurrency: 2, onDrop: (d) => dropped.push(d) }), toArray()));
    src.next(1);
    src.next(2);
    src.next(3); // both slots busy → dropped
    assert.deepEqual(g.started, [1, 2]);
    assert.deepEqual(dropped, [3]);
    g.finish(2); // the newer one finishes first
    await tick();
    g.finish(1); // stale now: dropped, not emitted after 2
    await tick();
    src.next(4);
    g.finish(4);
    await tick();
    src.complete();
    assert.deepEqual(await out, [2, 4]);
    assert.deepEqual(dropped, [3, 1]);
  });

  it('dropIfBusy with concurrency 1 is plain drop-if-busy', async () => {
    const src = new Subject<number>();
    const g = gate<number>();
    const dropped: number[] = [];
    const out = lastValueFrom(src.pipe(dropIfBusy(g.work, { concurrency: 1, onDrop: (d) => dropped.push(d) }), toArray()));
    src.next(1);
    src.next(2);
    g.finish(1);
    await tick();
    src.next(3);
    g.finish(3);
    await tick();
    src.complete();
    assert.deepEqual(await out, [1, 3]);
    assert.deepEqual(dropped, [2]);
  });
});
