import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';

/**
 * Camera child processes: spawned from an argument array (never a shell), killed with SIGTERM and then
 * SIGKILL after a grace period, and tracked until they have really exited so the daemon can wait for
 * them on shutdown (no orphans holding the camera, no zombies).
 */

export type CameraChild = ChildProcessByStdio<null, Readable, Readable>;

const live = new Map<CameraChild, Promise<void>>();

export function spawnCameraChild(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): CameraChild {
  const child = spawn(command, [...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
    shell: false,
    env: env ?? process.env,
  });
  const exited = new Promise<void>((resolve) => {
    // 'close' would wait for stdio to drain; 'exit' (or a spawn 'error') means the pid is gone
    child.once('exit', () => resolve());
    child.once('error', () => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) resolve();
    });
  });
  live.set(child, exited);
  void exited.then(() => live.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export function killCameraChild(child: CameraChild, graceMs = 2000): Promise<void> {
  const exited = live.get(child) ?? Promise.resolve();
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, graceMs);
  timer.unref();
  return exited.then(() => clearTimeout(timer));
}

/** Resolves when every camera child spawned so far has exited (call after unsubscribing, on shutdown). */
export async function waitForCameraChildren(): Promise<void> {
  while (live.size > 0) await Promise.all([...live.values()]);
}

/** pids of camera children that have not exited yet (for tests and diagnostics) */
export function liveCameraChildPids(): number[] {
  return [...live.keys()].map((c) => c.pid).filter((p): p is number => p !== undefined);
}
