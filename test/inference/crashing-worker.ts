/**
 * Test worker: the real inference worker plus a listener, registered first, that kills the thread when a
 * run's control pixel [0,0,0,2] holds a magic value — an uncaught exception (CRASH_THROW) or
 * process.exit in the worker (CRASH_EXIT). What the engine then sees is exactly what a real worker death
 * looks like ('error' / 'exit'); no production code knows about it.
 */
import { parentPort } from 'node:worker_threads';
import type { ToWorker } from '../../src/inference/protocol.js';

export const CTRL_CRASH = 2;
export const CRASH_THROW = -777;
export const CRASH_EXIT = -778;

parentPort!.on('message', (msg: ToWorker) => {
  if (msg.type !== 'run') return;
  if (msg.det[CTRL_CRASH] === CRASH_THROW) throw new Error('test: worker crashed on purpose');
  if (msg.det[CTRL_CRASH] === CRASH_EXIT) process.exit(7);
});
await import('../../src/inference/worker.js');
