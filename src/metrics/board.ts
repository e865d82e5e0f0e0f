import { execFile } from 'node:child_process';
import { access, readdir, readFile } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import path from 'node:path';

/** Raspberry Pi firmware throttling bits (`vcgencmd get_throttled`), decoded. */
export interface ThrottleFlags {
  raw: number;
  under_voltage_now: boolean;
  freq_capped_now: boolean;
  throttled_now: boolean;
  soft_temp_limit_now: boolean;
  under_voltage_since_boot: boolean;
  freq_capped_since_boot: boolean;
  throttled_since_boot: boolean;
  soft_temp_limit_since_boot: boolean;
}

export interface BoardHealth {
  /** SoC temperature in °C, null where no thermal zone is readable */
  soc_temp_c: number | null;
  /** `type` of the thermal zone used, e.g. `cpu-thermal` */
  thermal_zone: string | null;
  throttled: ThrottleFlags | null;
  throttled_source: 'sysfs' | 'vcgencmd' | null;
  load_1: number | null;
  load_5: number | null;
  load_15: number | null;
  /** why a value is null (for a debug log line; not published) */
  problems: string[];
}

export interface BoardOptions {
  /** filesystem root the /sys and /proc paths hang from; tests point it at a fake tree. Default `/`. */
  root?: string;
  /** PATH searched for `vcgencmd`; default process.env.PATH. Empty string disables vcgencmd. */
  pathEnv?: string;
  vcgencmdTimeoutMs?: number;
}

/** Zone types that are the SoC on boards we know (Pi 4/5: cpu-thermal); otherwise the first zone. */
const PREFERRED_ZONES = ['cpu-thermal', 'cpu_thermal', 'soc_thermal', 'soc-thermal', 'x86_pkg_temp'];
const THROTTLED_SYSFS = 'sys/devices/platform/soc/soc:firmware/get_throttled';

export function decodeThrottled(raw: number): ThrottleFlags {
  if (!Number.isInteger(raw) || raw < 0) throw new RangeError(`decodeThrottled: expected a non-negative integer, got ${raw}`);
  const bit = (n: number): boolean => (raw & (1 << n)) !== 0;
  return {
    raw,
    under_voltage_now: bit(0),
    freq_capped_now: bit(1),
    throttled_now: bit(2),
    soft_temp_limit_now: bit(3),
    under_voltage_since_boot: bit(16),
    freq_capped_since_boot: bit(17),
    throttled_since_boot: bit(18),
    soft_temp_limit_since_boot: bit(19),
  };
}

/** Parses `throttled=0x50005` (vcgencmd) or `50005` / `0x50005` (sysfs node, hex). */
export function parseThrottled(text: string): number {
  const m = /^(?:throttled=)?(?:0x)?([0-9a-f]+)\s*$/i.exec(text.trim());
  if (!m) throw new Error(`unrecognised get_throttled output: ${JSON.stringify(text.slice(0, 80))}`);
  return parseInt(m[1]!, 16);
}

export class BoardMonitor {
  private readonly root: string;
  private readonly pathEnv: string;
  private readonly timeoutMs: number;
  private zoneDir: { dir: string; type: string } | null | undefined;
  /** set after vcgencmd failed once: it will not start working without a reboot, so stop spawning it */
  private vcgencmdBroken: string | undefined;

  constructor(opts: BoardOptions = {}) {
    this.root = opts.root ?? '/';
    this.pathEnv = opts.pathEnv ?? process.env.PATH ?? '';
    this.timeoutMs = opts.vcgencmdTimeoutMs ?? 2000;
  }

  /** Reads everything available. Never throws: missing sources come back as null with a reason. */
  async read(): Promise<BoardHealth> {
    const problems: string[] = [];
    const [temp, thr, load] = await Promise.all([
      this.readTemp().catch((e: unknown) => fail(problems, 'soc temperature', e)),
      this.readThrottled().catch((e: unknown) => fail(problems, 'throttling flags', e)),
      this.readLoad().catch((e: unknown) => fail(problems, 'load average', e)),
    ]);
    return {
      soc_temp_c: temp?.celsius ?? null,
      thermal_zone: temp?.zone ?? null,
      throttled: thr?.flags ?? null,
      throttled_source: thr?.source ?? null,
      load_1: load?.[0] ?? null,
      load_5: load?.[1] ?? null,
      load_15: load?.[2] ?? null,
      problems,
    };
  }

  private p(rel: string): string {
    return path.join(this.root, rel);
  }

  private async findZone(): Promise<{ dir: string; type: string } | null> {
    const base = this.p('sys/class/thermal');
    let names: string[];
    try {
      names = await readdir(base);
    } catch {
      return null;
    }
    const zones = names.filter((n) => /^thermal_zone\d+$/.test(n)).sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
    const typed: { dir: string; type: string }[] = [];
    for (const z of zones) {
      const dir = path.join(base, z);
      const type = (await readFile(path.join(dir, 'type'), 'utf8').catch(() => z)).trim();
      typed.push({ dir, type });
    }
    for (const want of PREFERRED_ZONES) {
      const hit = typed.find((z) => z.type === want);
      if (hit) return hit;
    }
    return typed[0] ?? null;
  }

  private async readTemp(): Promise<{ celsius: number; zone: string }> {
    if (this.zoneDir === undefined) this.zoneDir = await this.findZone();
    const zone = this.zoneDir;
    if (!zone) {
      this.zoneDir = undefined; // thermal drivers can load late: look again next time
      throw new Error(`no thermal zone under ${this.p('sys/class/thermal')}`);
    }
    const file = path.join(zone.dir, 'temp');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      this.zoneDir = undefined;
      throw e;
    }
    const milli = Number(text.trim());
    if (!Number.isFinite(milli) || text.trim() === '') throw new Error(`${file}: expected millidegrees, got ${JSON.stringify(text.trim())}`);
    return { celsius: Math.round(milli / 100) / 10, zone: zone.type };
  }

  private async readThrottled(): Promise<{ flags: ThrottleFlags; source: 'sysfs' | 'vcgencmd' }> {
    const node = this.p(THROTTLED_SYSFS);
    const text = await readFile(node, 'utf8').catch(() => undefined);
    if (text !== undefined) return { flags: decodeThrottled(parseThrottled(text)), source: 'sysfs' };
    if (this.vcgencmdBroken) throw new Error(`${node} missing; vcgencmd failed earlier: ${this.vcgencmdBroken}`);
    const bin = await findOnPath('vcgencmd', this.pathEnv);
    if (!bin) throw new Error(`${node} missing and vcgencmd not on PATH`);
    try {
      const out = await run(bin, ['get_throttled'], this.timeoutMs);
      return { flags: decodeThrottled(parseThrottled(out)), source: 'vcgencmd' };
    } catch (e) {
      this.vcgencmdBroken = e instanceof Error ? e.message : String(e);
      throw e;
    }
  }

  private async readLoad(): Promise<[number, number, number]> {
    const file = this.p('proc/loadavg');
    const text = await readFile(file, 'utf8');
    const parts = text.trim().split(/\s+/).slice(0, 3).map(Number);
    if (parts.length !== 3 || parts.some((x) => !Number.isFinite(x))) {
      throw new Error(`${file}: expected three load averages, got ${JSON.stringify(text.slice(0, 80))}`);
    }
    return parts as [number, number, number];
  }
}

function fail(problems: string[], what: string, e: unknown): undefined {
  problems.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  return undefined;
}

async function findOnPath(name: string, pathEnv: string): Promise<string | undefined> {
  for (const dir of pathEnv.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function run(bin: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const why = err.killed ? `timed out after ${timeoutMs} ms` : stderr.trim() || err.message;
        reject(new Error(`${bin} ${args.join(' ')}: ${why}`));
      } else resolve(stdout);
    });
  });
}
