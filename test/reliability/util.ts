import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseProm } from '../../src/bench/soak-run.js';
import { testEnv, type DaemonProc } from '../helpers/daemon.js';
import { MODEL_SOURCES_DIR, PHOTOS_DIR } from '../helpers/paths.js';

/** The daemon's environment for fault tests: the shared test model cache, filled from the shipped sources. */
export function faultEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return testEnv({ EDGESIGHT_MODELS_MIRROR: MODEL_SOURCES_DIR, ...extra });
}

/** Long forms (the 20-restart flapping, ...) run only with EDGESIGHT_FAULT_LONG=1. */
export const LONG = process.env.EDGESIGHT_FAULT_LONG === '1';

export { freePort } from '../../src/bench/soak-run.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for `re` in the daemon's output after offset `from`; fails with the output when it exits or times out. */
export async function waitForOutput(d: DaemonProc, re: RegExp, timeoutMs: number, from = 0): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const m = re.exec(d.output().slice(from));
    if (m) return m[0];
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${re} in daemon output:\n${d.output().slice(-6000)}`);
    if (d.child.exitCode !== null || d.child.signalCode !== null)
      throw new Error(`daemon exited (${d.child.exitCode ?? d.child.signalCode}) while waiting for ${re}:\n${d.output().slice(-6000)}`);
    await sleep(100);
  }
}

/** /metrics of a daemon, as `name{labels}` → value. */
export async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return parseProm(await res.text());
}

export async function waitForMetric(
  port: number,
  name: string,
  pred: (v: number) => boolean,
  timeoutMs: number,
  what: string,
  d?: DaemonProc,
): Promise<Map<string, number>> {
  const until = Date.now() + timeoutMs;
  let last: number | undefined;
  for (;;) {
    try {
      const m = await scrape(port);
      last = m.get(name);
      if (last !== undefined && pred(last)) return m;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > until)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${name} = ${last})${d ? `\n${d.output().slice(-4000)}` : ''}`);
    if (d && (d.child.exitCode !== null || d.child.signalCode !== null))
      throw new Error(`daemon exited while waiting for ${what}:\n${d.output().slice(-4000)}`);
    await sleep(250);
  }
}

export const PROCESSED = 'edgesight_frames_total{result="processed"}';
export const CAPTURED = 'edgesight_frames_captured_total';
export const dropped = (cls: string): string => `edgesight_mqtt_dropped_total{class="${cls}"}`;

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Live or zombie processes whose parent is `pid`. */
export function childrenOf(pid: number): Array<{ pid: number; state: string; cmd: string }> {
  const out: Array<{ pid: number; state: string; cmd: string }> = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const status = readFileSync(`/proc/${d}/status`, 'utf8');
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== pid) continue;
      out.push({
        pid: Number(d),
        state: /^State:\s+(\S)/m.exec(status)?.[1] ?? '?',
        cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' '),
      });
    } catch {
      /* gone while we looked */
    }
  }
  return out;
}

/** Processes (any parent) whose command line contains `needle`, zombies included. */
export function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * Measured figures of a fault test: printed, and appended as a JSON line to $EDGESIGHT_FIGURES_OUT (or
 * <tmp>/edgesight-reliability-figures.jsonl), which docs/reliability.md is written from.
 */
export function recordFigures(test: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ test, at: new Date().toISOString(), ...figures });
  console.log(`      figures: ${line}`);
  appendFileSync(process.env.EDGESIGHT_FIGURES_OUT ?? path.join(tmpdir(), 'edgesight-reliability-figures.jsonl'), line + '\n');
}

export function daemonYaml(o: { id: string; url: string; httpPort: number; camera?: string; mqtt?: string; extra?: string }): string {
  return `
device: { id: ${o.id} }
${
  o.camera ??
  `camera:
  name: cam
  source: files
  fps: 8
  files: { path: ${PHOTOS_DIR}, loop: true }`
}
segmentation: { every: 0 }
mqtt: { url: ${o.url}, reconnect_max_s: 2${o.mqtt ? `, ${o.mqtt}` : ''} }
metrics: { http: { enabled: true, port: ${o.httpPort} }, stats_interval_s: 5 }
logging: { pretty: false }
${o.extra ?? ''}`;
}
