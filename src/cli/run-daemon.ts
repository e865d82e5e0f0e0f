import { createLogger, type Logger } from '../logging/logger.js';
import { ConfigError } from '../config/errors.js';
import { loadConfigFile } from '../config/load.js';
import { Daemon } from '../service/daemon.js';
import { checkPlatform } from '../service/platform.js';
import { RUN } from './commands.js';
import { parse } from './args.js';
import { CLI_LOAD_OPTIONS, loadConfigOrExit } from './common.js';
import { exitCodeFor } from './exit-codes.js';

/** SIGTERM/SIGINT must end the process within this bound, whatever hangs. */
const STOP_BOUND_MS = 5000;
/** A start that failed must be gone well within 5 s of the failure. */
const FAIL_BOUND_MS = 3000;

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, RUN.options, false);
  checkPlatform();
  const lc = loadConfigOrExit(values.config);
  const log = createLogger(lc.config.logging.level, lc.config.logging.pretty);
  const daemon = new Daemon(lc, log);
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    setTimeout(() => {
      log.error(`stop took longer than ${STOP_BOUND_MS / 1000} s; exiting anyway`);
      process.exit(1);
    }, STOP_BOUND_MS).unref();
    daemon.stop(STOP_BOUND_MS - 1000).then(
      ({ stuckThreads }) => {
        if (stuckThreads) {
          // ONNX Runtime aborts the process when a run returns into a torn-down Node; MQTT is already
          // flushed and offline published, so end it now rather than leave an abort for later
          log.error('exiting hard: an inference thread is stuck');
          process.kill(process.pid, 'SIGKILL');
        }
        log.info('stopped');
        process.exit(0);
      },
      (e: Error) => {
        log.error({ err: e.message }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    if (stopping) return;
    daemon.health.notifier.reloading('reloading');
    try {
      const next = loadConfigFile(lc.file, CLI_LOAD_OPTIONS);
      const r = daemon.reload(next);
      log.info(
        { applied: r.applied, needs_restart: r.needsRestart, mqtt_reconnected: r.reconnected },
        r.needsRestart.length ? 'config reloaded; some changes need a restart (systemctl restart edgesight)' : 'config reloaded',
      );
    } catch (e) {
      if (e instanceof ConfigError) {
        for (const p of e.problems) log.error({ key: p.path, line: p.line, source: p.source }, `config reload refused: ${p.path}: ${p.message}`);
        log.error({ file: lc.file, problems: e.problems.length }, 'the new config is invalid; still running on the previous one');
      } else {
        log.error({ err: (e as Error).message }, 'config reload failed; still running on the previous one');
      }
    }
    daemon.health.notifier.ready(daemon.health.statusLine());
  });
  // only now: a SIGTERM that follows this line is a clean stop, never the default kill by signal
  log.info({ config: lc.file ?? '(defaults)', device: lc.config.device.id }, 'edgesight starting');
  try {
    await daemon.start();
  } catch (e) {
    return failBeforeReady(e, daemon, log);
  }
  return new Promise<number>(() => undefined);
}

/**
 * A failure before READY: one fatal line naming the fix, a bounded teardown, then exit with a status
 * systemd understands. The exit is explicit: a part that leaks a timer or socket must not keep a daemon
 * that will never serve alive (systemd would see it as running, and `kill` would end it with 0).
 */
async function failBeforeReady(e: unknown, daemon: Daemon, log: Logger): Promise<never> {
  const code = exitCodeFor(e);
  // a SIGTERM now must not turn the failure into a clean stop (exit 0)
  process.removeAllListeners('SIGTERM').removeAllListeners('SIGINT').removeAllListeners('SIGHUP');
  const message = (e as Error).message ?? String(e);
  log.fatal({ err: message, exit_code: code }, `cannot start: ${message}`);
  const hard = setTimeout(() => process.exit(code), FAIL_BOUND_MS);
  hard.unref();
  await daemon.stop(FAIL_BOUND_MS - 500).catch(() => undefined);
  process.exit(code);
}
