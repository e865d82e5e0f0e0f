import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createNotifier } from '../../src/systemd/sdnotify.js';
import { NotifyReceiver } from '../../src/systemd/sdnotify-receiver.js';
import { startWatchdog, watchdogIntervalFromEnv } from '../../src/systemd/watchdog.js';

const moduleUrl = (rel: string): string => pathToFileURL(fileURLToPath(new URL(rel, import.meta.url))).href;

/** Resolves when `cond()` holds; polls, so it cannot miss a state that persists. */
async function until(cond: () => boolean, what: string, timeoutMs = 15000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const watchdogs = (r: NotifyReceiver): number => r.history.filter((d) => d.message === 'WATCHDOG=1').length;

describe('watchdog feed (WATCHDOG=1 only while healthy)', function () {
  this.timeout(30000);
  const receivers: NotifyReceiver[] = [];
  const receiver = (): NotifyReceiver => {
    const r = NotifyReceiver.bind();
    receivers.push(r);
    return r;
  };
  after(() => receivers.forEach((r) => r.close()));

  describe('watchdogIntervalFromEnv', () => {
    it('is half of WATCHDOG_USEC, in ms', () => {
      assert.equal(watchdogIntervalFromEnv({ WATCHDOG_USEC: '60000000' }, 42), 30000);
      assert.equal(watchdogIntervalFromEnv({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '42' }, 42), 30000);
      assert.equal(watchdogIntervalFromEnv({ WATCHDOG_USEC: '1' }, 42), 1);
      assert.equal(watchdogIntervalFromEnv({ WATCHDOG_USEC: String(10n ** 15n) }, 42), 2 ** 31 - 1);
    });
    it('is null without WATCHDOG_USEC or when WATCHDOG_PID names another process', () => {
      assert.equal(watchdogIntervalFromEnv({}, 42), null);
      assert.equal(watchdogIntervalFromEnv({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '41' }, 42), null);
    });
    it('rejects malformed values by name', () => {
      assert.throws(() => watchdogIntervalFromEnv({ WATCHDOG_USEC: '30s' }, 1), /WATCHDOG_USEC="30s" is not a positive integer/);
      assert.throws(() => watchdogIntervalFromEnv({ WATCHDOG_USEC: '0' }, 1), /WATCHDOG_USEC="0"/);
      assert.throws(() => watchdogIntervalFromEnv({ WATCHDOG_USEC: '5', WATCHDOG_PID: 'me' }, 1), /WATCHDOG_PID="me" is not a PID/);
    });
  });

  it('rejects an interval setInterval cannot honour', () => {
    const notifier = createNotifier({});
    assert.throws(() => startWatchdog({ notifier, intervalMs: 0, isHealthy: () => true }), /intervalMs must be between 1 and/);
    assert.throws(() => startWatchdog({ notifier, intervalMs: 2 ** 31, isHealthy: () => true }), /intervalMs must be between 1 and/);
  });

  it('pings once per healthy check and stops when the inference worker hangs', async () => {
    const r = receiver();
    // A stand-in for the inference worker: answers pings until told to hang, then spins forever.
    const worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       parentPort.on('message', (m) => { if (m === 'hang') { for (;;) {} } parentPort.postMessage(m); });`,
      { eval: true },
    );
    let seq = 0;
    const pending = new Map<number, () => void>();
    worker.on('message', (id: number) => pending.get(id)?.());
    let hangPosted = false;
    const results: { healthy: boolean; afterHang: boolean }[] = [];
    // What the daemon does: a ping must be answered within a deadline.
    const isHealthy = async (): Promise<boolean> => {
      const id = ++seq;
      const afterHang = hangPosted;
      const healthy = await new Promise<boolean>((res) => {
        const t = setTimeout(() => res(false), 400);
        pending.set(id, () => (clearTimeout(t), res(true)));
        worker.postMessage(id);
      });
      pending.delete(id);
      results.push({ healthy, afterHang });
      return healthy;
    };
    const changes: [boolean, string][] = [];
    const wd = startWatchdog({
      notifier: createNotifier({ NOTIFY_SOCKET: r.address }),
      intervalMs: 20,
      isHealthy,
      onHealthChange: (h, why) => changes.push([h, why]),
    });
    try {
      await until(() => results.filter((x) => x.healthy).length >= 3, 'three healthy checks');
      worker.postMessage('hang');
      hangPosted = true;
      await until(() => results.filter((x) => x.afterHang).length >= 3, 'three checks after the hang');
      wd.stop();
      await sleep(50); // let a check already in flight settle; its result cannot send after stop()
      r.drain();
      const healthy = results.filter((x) => x.healthy).length;
      assert.equal(watchdogs(r), healthy, 'exactly one WATCHDOG=1 per healthy check');
      assert.ok(
        results.filter((x) => x.afterHang).every((x) => !x.healthy),
        'a hung worker must never look healthy',
      );
      assert.equal(changes.at(-1)?.[0], false);
      assert.ok(changes.some(([h]) => h));
    } finally {
      wd.stop();
      await worker.terminate();
    }
  });

  it('does not ping while a health check is still pending, nor when it throws', async () => {
    const r = receiver();
    const notifier = createNotifier({ NOTIFY_SOCKET: r.address });
    const changes: string[] = [];
    const errors: Error[] = [];
    let calls = 0;
    const never = startWatchdog({
      notifier,
      intervalMs: 10,
      isHealthy: () => (calls++, new Promise<boolean>(() => {})),
      onHealthChange: (_h, why) => changes.push(why),
    });
    await until(() => changes.length > 0, 'the pending check to be reported');
    never.stop();
    assert.equal(calls, 1, 'no overlapping checks');
    assert.match(changes[0] ?? '', /still pending/);
    const throwing = startWatchdog({
      notifier,
      intervalMs: 10,
      isHealthy: () => {
        throw new Error('worker gone');
      },
      onError: (e) => errors.push(e),
    });
    await until(() => errors.length >= 2, 'two failed checks');
    throwing.stop();
    r.drain();
    assert.equal(watchdogs(r), 0);
    assert.equal(errors[0]?.message, 'worker gone');
  });

  it('reports a failed send through onError and keeps going', async () => {
    const errors: Error[] = [];
    const wd = startWatchdog({
      notifier: createNotifier({ NOTIFY_SOCKET: `@edgesight-nobody-${process.pid}` }),
      intervalMs: 10,
      isHealthy: () => true,
      onError: (e) => errors.push(e),
    });
    await until(() => errors.length >= 2, 'two failed sends');
    wd.stop();
    assert.match(errors[0]?.message ?? '', /sendto\(@edgesight-nobody-\d+\): Connection refused/);
  });

  it('stops pinging when the event loop is wedged (a child process that busy-loops)', async () => {
    const r = receiver();
    const dir = mkdtempSync(join(tmpdir(), 'edgesight-wd-'));
    const script = join(dir, 'wedge.mjs');
    writeFileSync(
      script,
      `import { createNotifier } from ${JSON.stringify(moduleUrl('../../src/systemd/sdnotify.js'))};
import { startWatchdog, watchdogIntervalFromEnv } from ${JSON.stringify(moduleUrl('../../src/systemd/watchdog.js'))};
const notifier = createNotifier();
let checks = 0;
startWatchdog({ notifier, intervalMs: watchdogIntervalFromEnv(), isHealthy: () => ++checks <= 3 || wedge() });
function wedge() { notifier.status('wedging'); for (;;) {} }
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, NOTIFY_SOCKET: r.address, WATCHDOG_USEC: '40000' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    try {
      // The loop is wedged the moment STATUS=wedging is sent; watch 20 more intervals for a stray ping.
      await r.waitFor((d) => d.fields.STATUS === 'wedging');
      await sleep(400);
      r.drain();
      const messages = r.history.map((d) => d.message);
      assert.deepEqual(messages, ['WATCHDOG=1', 'WATCHDOG=1', 'WATCHDOG=1', 'STATUS=wedging']);
      assert.ok(r.history.every((d) => d.pid === child.pid));
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
