/**
 * Test worker: the real inference worker plus a listener that kills the thread when
 * a run's control pixel [0,0,0,2] holds a magic value — an uncaught exception (CRASH_THROW) or
 * process.exit in the worker (CRASH_EXIT). What the engine then sees is exactly what a real worker death
 * looks like ('error' / 'exit'); no production code knows about it.
 */
import { parentPort } from 'node:worker_threads';
import '../../src/inference/worker.js';
import type { ToWorker } from '../../src/inference/protocol.js';
import { REQ, waitAsync } from '../../src/inference/slots.js';
import { CRASH_EXIT, CRASH_THROW, CTRL_CRASH } from './faulty-model.js';

let input: Float32Array | null = null;
let ctrl: Int32Array | null = null;

// Runs the real worker's own path for a run would take — then checks the control pixel in the shared
// input slot. Both wake-ups (the run message, the control block) reach this listener after the real
// worker's, in the same turn: ORT's run only starts from a later setImmediate, so the thread dies
// before any native run begins.
function check(): void {
  const v = input![CTRL_CRASH];
  if (v === CRASH_THROW) queueMicrotask(() => {
    throw new Error('test: worker crashed on purpose');
  });
  if (v === CRASH_EXIT) process.exit(7);
}

let lastSeen = 0;
function watch(c: Int32Array): void {
  if (c !== ctrl) return;
  const cur = Atomics.load(c, REQ);
  if (cur > lastSeen) {
    lastSeen = cur;
    check();
  }
  const r = waitAsync(c, REQ, cur);
  if (r.async) void r.value.then(() => watch(c));
  else watch(c);
}

parentPort!.on('message', (msg: ToWorker) => {
  if (msg.type !== 'run') return;
  input = new Float32Array(msg.slots.input);
  if (!ctrl || ctrl.buffer !== msg.slots.ctrl) {
    ctrl = new Int32Array(msg.slots.ctrl, 0, 1);
    watch(ctrl);
  }
  check();
});
