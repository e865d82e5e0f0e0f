/**
 * Download/copy progress: a redrawn bar when stderr is a terminal, a few plain log lines otherwise
 * (journald and CI logs must not fill up with carriage-return frames).
 */
export interface ProgressSink {
  update(done: number, total: number): void;
  /** ends the bar line (TTY) or logs the last line */
  finish(): void;
}

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

function mb(n: number): string {
  return (n / 1e6).toFixed(1);
}

/** One bar frame, fixed width so redraws overwrite the previous one completely. */
export function renderBar(label: string, done: number, total: number, width = 24, bytesPerSecond?: number): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const filled = Math.round(frac * width);
  const pct = `${Math.floor(frac * 100)}`.padStart(3);
  const rate = bytesPerSecond !== undefined && Number.isFinite(bytesPerSecond) ? ` ${mb(bytesPerSecond)} MB/s` : '';
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct}% ${mb(done)}/${mb(total)} MB${rate}`;
}

export function createProgress(
  label: string,
  stream: ProgressStream = process.stderr,
  log: (msg: string) => void = (m) => void stream.write(m + '\n'),
): ProgressSink {
  const started = performance.now();
  let lastDraw = 0;
  let lastQuarter = -1;
  let last: [number, number] = [0, 0];
  let drawn = false;
  const draw = (done: number, total: number): void => {
    const secs = (performance.now() - started) / 1000;
    const line = renderBar(label, done, total, 24, secs > 0.5 ? done / secs : undefined);
    stream.write(`\r${line}\x1b[K`);
    drawn = true;
  };
  return {
    update(done, total) {
      last = [done, total];
      if (stream.isTTY) {
        const now = performance.now();
        if (now - lastDraw < 100 && done < total) return;
        lastDraw = now;
        draw(done, total);
        return;
      }
      const quarter = total > 0 ? Math.floor((done / total) * 4) : 0;
      if (quarter > lastQuarter && quarter < 4) {
        lastQuarter = quarter;
        log(`${label}: ${quarter * 25}% (${mb(done)}/${mb(total)} MB)`);
      }
    },
    finish() {
      if (stream.isTTY) {
        if (drawn || last[1] > 0) {
          draw(last[0], last[1]);
          stream.write('\n');
        }
      } else if (last[1] > 0) {
        log(`${label}: done (${mb(last[0])} MB)`);
      }
    },
  };
}
