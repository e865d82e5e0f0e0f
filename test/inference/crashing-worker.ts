/**
 * Test worker: the real inference worker plus a listener that kills the thread when
 * a run's control pixel [0,0,0,2] holds a magic value — an uncaught exception (CRASH_THROW) or
 * process.exit in the worker (CRASH_EXIT). What the engine then sees is exactly what a real worker death
 * looks like ('error' / 'exit'); no production code knows about it.
 */
import { parentPort } from 'node:worker_threads';
import '../../src/inference/worker.js';
import type { ToWorker } from '../../src/inference/protocol.js';
import { CRASH_EXIT, CRASH_THROW, CTRL_CRASH } from './faulty-model.js';

// added after the real worker's listener, in the same dispatch: ORT's run only starts from a later
// setImmediate, so the thread dies before any native run begins
parentPort!.on('message', (msg: ToWorker) => {
  if (msg.type !== 'run') return;
  if (msg.det[CTRL_CRASH] === CRASH_THROW) throw new Error('test: worker crashed on purpose');
  if (msg.det[CTRL_CRASH] === CRASH_EXIT) process.exit(7);
});
