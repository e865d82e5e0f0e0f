import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * JSON lines to stdout so journald and log shippers get structured fields; pretty only when a person
 * is watching a TTY (pino-pretty is not a dependency: a tiny formatter is enough for humans).
 */
export function createLogger(level: LevelWithSilent = 'info', pretty: boolean | 'auto' = 'auto', fd: 1 | 2 = 1): Logger {
  const out = fd === 1 ? process.stdout : process.stderr;
  const usePretty = pretty === 'auto' ? Boolean(out.isTTY) : pretty;
  if (!usePretty) {
    return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd, sync: true }));
  }
  return pino({ level, base: undefined, timestamp: false }, prettyStream(out));
}

function prettyStream(out: NodeJS.WriteStream): { write(s: string): void } {
  const names: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
  return {
    write(line: string): void {
      try {
        const { level, msg, time: _t, ...rest } = JSON.parse(line) as Record<string, unknown> & { level: number; msg?: string };
        const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
        out.write(`${new Date().toISOString().slice(11, 23)} ${names[level] ?? level} ${msg ?? ''}${extra}\n`);
      } catch {
        out.write(line);
      }
    },
  };
}
