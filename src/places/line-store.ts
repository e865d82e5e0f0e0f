import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Line crossing totals that outlive the process: one small JSON file per camera in the state directory,
 * written atomically (temp file + rename) when a total changes, so a power cut loses at most the crossing
 * being written. `daily` totals carry the local date they belong to and restart from 0 on a new day.
 */
export interface LineTotals {
  in: number;
  out: number;
  /** local date (YYYY-MM-DD) the totals count from */
  day: string;
}

export function localDay(t: number): string {
  const d = new Date(t);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** $STATE_DIRECTORY (systemd StateDirectory=, first entry), else $XDG_STATE_HOME/edgesight, else ~/.local/state/edgesight. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env, home = process.env.HOME ?? '/'): string {
  const sd = env.STATE_DIRECTORY?.split(':')[0];
  if (sd) return sd;
  if (env.XDG_STATE_HOME) return path.join(env.XDG_STATE_HOME, 'edgesight');
  return path.join(home, '.local', 'state', 'edgesight');
}

export class LineStore {
  private totals = new Map<string, LineTotals>();
  /** the last write failed: retried on the next change; the error is reported once */
  writeError: string | null = null;

  constructor(readonly file: string | null) {
    if (!file) return;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new Error(`line totals ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new Error(`line totals ${file} is not valid JSON (${(e as Error).message}); move it away to start from 0`);
    }
    const lines = (data as { lines?: Record<string, Partial<LineTotals>> }).lines ?? {};
    for (const [name, t] of Object.entries(lines)) {
      if (Number.isInteger(t.in) && Number.isInteger(t.out) && typeof t.day === 'string')
        this.totals.set(name, { in: t.in!, out: t.out!, day: t.day });
    }
  }

  get(name: string, now: number): LineTotals {
    let t = this.totals.get(name);
    if (!t) {
      t = { in: 0, out: 0, day: localDay(now) };
      this.totals.set(name, t);
    }
    return t;
  }

  /** Zeroes the totals when their day is over; true when they changed. */
  rollover(name: string, now: number): boolean {
    const t = this.get(name, now);
    const today = localDay(now);
    if (t.day === today) return false;
    t.day = today;
    const changed = t.in !== 0 || t.out !== 0;
    t.in = 0;
    t.out = 0;
    return changed;
  }

  /** Forget lines no longer configured (their file entry goes with the next save). */
  retain(names: readonly string[]): void {
    for (const n of [...this.totals.keys()]) if (!names.includes(n)) this.totals.delete(n);
  }

  save(): void {
    if (!this.file) return;
    const body = JSON.stringify({ v: 1, lines: Object.fromEntries(this.totals) }, null, 2) + '\n';
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.tmp`;
      writeFileSync(tmp, body);
      renameSync(tmp, this.file);
      this.writeError = null;
    } catch (e) {
      this.writeError = `${this.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    }
  }
}
