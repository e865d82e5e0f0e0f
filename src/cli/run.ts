import { createLogger } from '../logging/logger.js';
import { Daemon } from '../service/daemon.js';
import { checkPlatform } from '../service/platform.js';
import { parse } from './args.js';
import { loadConfigOrExit } from './common.js';

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { config: { type: 'string', short: 'c' } }, false);
  checkPlatform();
  const lc = loadConfigOrExit(values.config);
  const log = createLogger(lc.config.logging.level, lc.config.logging.pretty);
  log.info({ config: lc.file ?? '(defaults)', device: lc.config.device.id }, 'edgesight starting');
  const daemon = new Daemon(lc, log);
  let stopping: Promise<void> | null = null;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    log.info({ signal }, 'stopping');
    // a hard bound: whatever hangs, the process is gone within 5 s
    setTimeout(() => {
      log.error('stop took longer than 5 s; exiting');
      process.exit(1);
    }, 5000).unref();
    stopping = daemon.stop().then(
      () => {
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
  try {
    await daemon.start();
  } catch (e) {
    log.fatal({ err: (e as Error).message }, 'cannot start');
    await daemon.stop(2000).catch(() => undefined);
    return 1;
  }
  return new Promise<number>(() => undefined);
}
