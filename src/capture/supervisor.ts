import { Observable } from 'rxjs';
import { spawnCameraChild, killCameraChild, type CameraChild } from './child.js';
import { CameraMissingError } from './errors.js';
import type { CaptureHooks } from './hooks.js';
import type { SourceEvent } from './frame.js';

export interface Backoff {
  initialMs: number;
  maxMs: number;
  /** growth per consecutive failure; default 2 */
  factor?: number;
  /** fraction of the delay that is randomised, 0..1; default 0.5 (delay in [base*(1-jitter), base]) */
  jitter?: number;
}

export const DEFAULT_BACKOFF: Required<Backoff> = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };

/** Delay before restart number `attempt` (1-based): capped exponential, jittered downwards so a fleet
 *  of daemons restarted together does not hammer a shared RTSP server in lockstep. */
export function backoffDelay(attempt: number, b: Backoff, random: () => number = Math.random): number {
  const factor = b.factor ?? DEFAULT_BACKOFF.factor;
  const jitter = Math.min(1, Math.max(0, b.jitter ?? DEFAULT_BACKOFF.jitter));
  const base = Math.min(b.maxMs, b.initialMs * factor ** Math.max(0, attempt - 1));
  return Math.round(base * (1 - jitter * random()));
}

export interface ProcessSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export interface SuperviseOptions<T> {
  /** short name for logs, e.g. 'libcamera' */
  name: string;
  /** called before every (re)start; throw CameraMissingError when the camera or its program is absent */
  resolve(): ProcessSpec;
  /** a fresh parser per process, so a partial frame of a dead process never glues onto the next one */
  createParser(): (chunk: Buffer) => T[];
  /** restart when no item arrived for this long; 0 disables */
  stallTimeoutMs: number;
  backoff?: Partial<Backoff>;
  /** a process that produced items for at least this long resets the backoff; default 30 s */
  resetAfterMs?: number;
  /** SIGTERM → SIGKILL grace; default 2 s */
  killGraceMs?: number;
  /** exit code 0 completes the stream instead of restarting (a video file played once) */
  completeOnCleanExit?: boolean;
  /** stderr lines that mean "no camera" (reported as `missing` events) */
  missingPattern?: RegExp;
  /** stderr lines that are known noise: logged at debug level only */
  quietPattern?: RegExp;
  /** stderr lines logged per process before the rest are only counted; default 200 */
  maxLoggedStderrLines?: number;
  hooks?: CaptureHooks;
  random?: () => number;
}

/**
 * Runs a child process as a cold Observable of parsed items, restarting it forever with capped,
 * jittered exponential backoff when it exits, crashes, stalls or cannot be started. The Observable only
 * errors for programming/config errors thrown by `resolve()` (anything but CameraMissingError);
 * unsubscribing kills the process (SIGTERM, then SIGKILL).
 */
export function superviseProcess<T>(opts: SuperviseOptions<T>): Observable<T> {
  const backoff: Backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
  const resetAfterMs = opts.resetAfterMs ?? 30_000;
  const graceMs = opts.killGraceMs ?? 2000;
  const maxLogged = opts.maxLoggedStderrLines ?? 200;
  const random = opts.random ?? Math.random;
  const hooks = opts.hooks ?? {};
  const emit = (ev: SourceEvent): void => hooks.onEvent?.(ev);

  return new Observable<T>((subscriber) => {
    let stopped = false;
    let attempt = 0;
    let child: CameraChild | undefined;
    let restartTimer: NodeJS.Timeout | undefined;
    let stallTimer: NodeJS.Timeout | undefined;

    const clearStall = (): void => {
      if (stallTimer) clearTimeout(stallTimer);
      stallTimer = undefined;
    };

    const scheduleRestart = (reason: string, healthy: boolean): void => {
      if (stopped) return;
      if (healthy) attempt = 0;
      attempt++;
      const delayMs = backoffDelay(attempt, backoff, random);
      emit({ type: 'restart', reason, attempt, delayMs });
      hooks.log?.warn({ source: opts.name, reason, attempt, delayMs }, `camera source ${opts.name} restarting`);
      restartTimer = setTimeout(start, delayMs);
    };

    const reportMissing = (detail: string): void => {
      emit({ type: 'missing', detail });
      hooks.log?.error({ source: opts.name, detail }, `camera missing: ${detail}`);
    };

    function start(): void {
      restartTimer = undefined;
      if (stopped) return;
      let spec: ProcessSpec;
      try {
        spec = opts.resolve();
      } catch (err) {
        if (err instanceof CameraMissingError) {
          reportMissing(err.message);
          scheduleRestart(`camera missing: ${err.message}`, false);
        } else {
          subscriber.error(err);
        }
        return;
      }

      const parse = opts.createParser();
      const proc = spawnCameraChild(spec.command, spec.args, spec.env);
      child = proc;
      const startedAt = performance.now();
      let firstItemAt: number | undefined;
      let lastItemAt = startedAt;
      let gone = false;
      let stallKilled = false;
      let missingSeen = false;
      let stderrLines = 0;
      let stderrRest = '';

      const armStall = (): void => {
        if (opts.stallTimeoutMs <= 0) return;
        clearStall();
        stallTimer = setTimeout(() => {
          stallTimer = undefined;
          if (gone || stopped) return;
          const afterMs = Math.round(performance.now() - lastItemAt);
          stallKilled = true;
          emit({ type: 'stall', afterMs });
          hooks.log?.warn({ source: opts.name, afterMs, pid: proc.pid }, `camera source ${opts.name} stalled, killing it`);
          void killCameraChild(proc, graceMs);
        }, opts.stallTimeoutMs);
      };

      const onGone = (reason: string, clean: boolean): void => {
        if (gone) return;
        gone = true;
        clearStall();
        if (child === proc) child = undefined;
        if (stopped) return;
        if (clean && opts.completeOnCleanExit) {
          hooks.log?.info({ source: opts.name }, `camera source ${opts.name} finished`);
          subscriber.complete();
          return;
        }
        const healthy = firstItemAt !== undefined && lastItemAt - firstItemAt >= resetAfterMs;
        scheduleRestart(stallKilled ? 'stall' : reason, healthy);
      };

      proc.once('spawn', () => {
        const pid = proc.pid ?? -1;
        emit({ type: 'started', detail: `${spec.command} pid=${pid}` });
        hooks.log?.info({ source: opts.name, pid, command: spec.command, args: spec.args }, `camera source ${opts.name} started`);
        hooks.onSpawn?.(pid);
        armStall();
      });
      proc.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'EACCES') {
          reportMissing(`cannot run ${spec.command}: ${err.code === 'ENOENT' ? 'not installed or not on PATH' : 'not executable'} (${err.code})`);
          onGone(`spawn failed: ${err.code}`, false);
        } else if (proc.pid === undefined) {
          hooks.log?.error({ source: opts.name, err: err.message }, `camera source ${opts.name} failed to start`);
          onGone(`spawn failed: ${err.message}`, false);
        } else {
          hooks.log?.warn({ source: opts.name, err: err.message }, `camera source ${opts.name} process error`);
        }
      });
      proc.stdout.on('data', (chunk: Buffer) => {
        if (gone || stopped) return;
        const items = parse(chunk);
        if (items.length === 0) return;
        lastItemAt = performance.now();
        firstItemAt ??= lastItemAt;
        armStall();
        for (const item of items) subscriber.next(item);
      });
      proc.stderr.setEncoding('utf8');
      proc.stderr.on('data', (text: string) => {
        // bounded line buffer: a process spewing one endless line must not grow memory
        const lines = (stderrRest + text).split('\n');
        stderrRest = (lines.pop() ?? '').slice(-4096);
        for (const raw of lines) {
          const line = raw.trimEnd();
          if (!line) continue;
          emit({ type: 'stderr', line });
          if (opts.missingPattern?.test(line) && !missingSeen) {
            missingSeen = true;
            reportMissing(line);
          }
          if (opts.quietPattern?.test(line)) {
            hooks.log?.debug({ source: opts.name, pid: proc.pid, stderr: line }, 'camera stderr');
            continue;
          }
          stderrLines++;
          if (stderrLines <= maxLogged) hooks.log?.info({ source: opts.name, pid: proc.pid, stderr: line }, 'camera stderr');
          else if (stderrLines === maxLogged + 1)
            hooks.log?.warn({ source: opts.name, pid: proc.pid }, 'camera stderr: further lines are only counted');
        }
      });
      // 'close' (not 'exit') so every byte of stdout has been parsed before the restart decision
      proc.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        const why = signal ? `killed by ${signal}` : `exited with code ${code}`;
        if (!stopped) {
          hooks.log?.warn({ source: opts.name, pid: proc.pid, code, signal }, `camera source ${opts.name} ${why}`);
        }
        onGone(missingSeen ? `camera missing (${why})` : why, code === 0 && !stallKilled);
      });
    }

    start();

    return () => {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      clearStall();
      if (child) void killCameraChild(child, graceMs);
      child = undefined;
    };
  });
}
