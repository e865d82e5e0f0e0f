import { createLogger } from '../logging/logger.js';
import { ConfigError, EX_CONFIG } from '../config/errors.js';
import { loadConfigFile } from '../config/load.js';
import { Daemon } from '../service/daemon.js';
import { ModelError } from '../models/manifest.js';
import { checkPlatform } from '../service/platform.js';
import { parse } from './args.js';
import { loadConfigOrExit } from './common.js';

/** SIGTERM/SIGINT must end the process within this bound, whatever hangs. */
const STOP_BOUND_MS = 5000;

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string', short: 'c' } }, false);
  checkPlatform();
  const lc = loadConfigOrExit(values.config);
  const log = createLogger(lc.config.logging.level, lc.config.logging.pretty);
  log.info({ config: lc.file ?? '(defaults)', device: lc.config.device.id }, 'edgesight starting');
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
      const next = loadConfigFile(lc.file);
      const r = daemon.reload(next);
      log.info({ applied: r.applied, needs_restart: r.needsRestart, mqtt_reconnected: r.reconnected }, r.needsRestart.length ? 'config reloaded; some changes need a restart (systemctl restart edgesight)' : 'config reloaded');
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
  try {
    await daemon.start();
  } catch (e) {
    log.fatal({ err: (e as Error).message }, `cannot start: ${(e as Error).message}`);
    await daemon.stop(2000).catch(() => undefined);
    // EX_NOINPUT: a model that cannot be had (missing, refused, cannot be made) is a missing input
    return e instanceof ConfigError ? EX_CONFIG : e instanceof ModelError ? 66 : 1;
  }
  return new Promise<number>(() => undefined);
}
