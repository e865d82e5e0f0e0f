import { connect, type IClientOptions } from 'mqtt';
import type { StatsPayload } from './stats-schema.js';

export interface StatsCommandOptions {
  /** broker URL, e.g. mqtt://localhost:1883 */
  url: string;
  /** topic prefix, e.g. `edgesight` → `edgesight/<device>/stats` */
  baseTopic: string;
  /** one device; all devices (`+`) when absent */
  device?: string;
  /** print the first stats message and return */
  once?: boolean;
  out: NodeJS.WritableStream;
  /** warnings (bad payloads, connection trouble in JSON mode); default process.stderr */
  err?: NodeJS.WritableStream;
  /** table with ANSI redraw when true; one JSON line per message otherwise */
  isTTY: boolean;
  /** ends a live session */
  signal?: AbortSignal;
  /** with `once`: reject if no message arrives in this time */
  timeoutMs?: number;
  /** extra mqtt.js options (username, password, TLS) */
  mqtt?: IClientOptions;
  /** how often the table redraws to age its rows; default 1000 ms */
  refreshMs?: number;
}

interface Row {
  payload: Partial<StatsPayload> & Record<string, unknown>;
  receivedAt: number;
}

/**
 * `edgesight stats [--device ID]`: subscribes to `<base>/<device|+>/stats`. On a TTY it keeps a
 * table of devices redrawn in place; otherwise it prints each payload as one JSON line (for jq/logs).
 */
export async function statsCommand(opts: StatsCommandOptions): Promise<void> {
  const topic = statsTopic(opts.baseTopic, opts.device);
  const err = opts.err ?? process.stderr;
  const rows = new Map<string, Row>();
  let status = 'connecting';

  const client = connect(opts.url, { reconnectPeriod: opts.once ? 0 : 2000, connectTimeout: 10_000, ...opts.mqtt });

  const redraw = (): void => {
    if (!opts.isTTY || opts.once) return;
    opts.out.write('\x1b[H\x1b[2J' + `edgesight stats  ${opts.url}  ${topic}  [${status}]  (Ctrl-C to quit)\n\n` + renderTable(rows, Date.now()));
  };

  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (e?: Error): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearInterval(t);
      opts.signal?.removeEventListener('abort', onAbort);
      client.endAsync(true).then(
        () => (e ? reject(e) : resolve()),
        () => (e ? reject(e) : resolve()),
      );
    };
    const onAbort = (): void => finish();
    if (opts.signal?.aborted) return finish();
    opts.signal?.addEventListener('abort', onAbort);

    if (opts.once && opts.timeoutMs !== undefined) {
      timers.push(setTimeout(() => finish(new Error(`no stats message on ${topic} from ${opts.url} within ${opts.timeoutMs} ms`)), opts.timeoutMs));
    }
    if (opts.isTTY && !opts.once) {
      redraw();
      timers.push(setInterval(redraw, opts.refreshMs ?? 1000));
    }

    client.on('connect', () => {
      status = 'connected';
      client.subscribeAsync(topic, { qos: 0 }).then(
        (grants) => {
          if (grants.some((g) => g.qos === 128)) finish(new Error(`broker refused subscription to ${topic}`));
          redraw();
        },
        (e: unknown) => finish(new Error(`subscribe to ${topic} failed: ${e instanceof Error ? e.message : String(e)}`)),
      );
    });
    client.on('error', (e) => {
      const msg = `mqtt ${opts.url}: ${e.message}`;
      if (opts.once) return finish(new Error(msg));
      status = `error: ${e.message}`;
      if (!opts.isTTY) err.write(msg + '\n');
      redraw();
    });
    client.on('close', () => {
      if (opts.once && !settled) return finish(new Error(`mqtt ${opts.url}: connection closed before a stats message arrived`));
      if (status === 'connected') status = 'disconnected, retrying';
      redraw();
    });

    client.on('message', (t, buf) => {
      const text = buf.toString('utf8');
      let payload: Row['payload'];
      try {
        payload = parseStats(text);
      } catch (e) {
        err.write(`ignoring ${t}: ${e instanceof Error ? e.message : String(e)}\n`);
        return;
      }
      const device = typeof payload.device === 'string' ? payload.device : (t.split('/').at(-2) ?? '?');
      if (!opts.isTTY) {
        opts.out.write(JSON.stringify(payload) + '\n');
      } else if (opts.once) {
        opts.out.write(renderTable(new Map([[device, { payload, receivedAt: Date.now() }]]), Date.now()));
      } else {
        rows.set(device, { payload, receivedAt: Date.now() });
        redraw();
      }
      if (opts.once) finish();
    });
  });
}

export function statsTopic(baseTopic: string, device?: string): string {
  const base = baseTopic.replace(/\/+$/, '');
  if (base === '' || /[+#]/.test(base)) throw new Error(`stats: base topic must be non-empty and without wildcards, got ${JSON.stringify(baseTopic)}`);
  if (device !== undefined && (device === '' || /[+#/]/.test(device))) {
    throw new Error(`stats: --device must be one topic level without / + #, got ${JSON.stringify(device)}`);
  }
  return `${base}/${device ?? '+'}/stats`;
}

/** Accepts any v1 payload (older/newer daemons may add or lack keys); rejects non-JSON and other versions. */
export function parseStats(text: string): Row['payload'] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`payload is not JSON: ${JSON.stringify(text.slice(0, 60))}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('payload is not a JSON object');
  const o = v as Record<string, unknown>;
  if (o.v !== 1) throw new Error(`unsupported stats payload version ${JSON.stringify(o.v)} (this CLI reads v 1)`);
  return o as Row['payload'];
}

const COLUMNS: { title: string; cell: (p: Row['payload']) => string }[] = [
  { title: 'CAM FPS', cell: (p) => num(p.camera_fps, 1) },
  { title: 'PROC FPS', cell: (p) => num(p.processed_fps, 1) },
  { title: 'SKIP FPS', cell: (p) => num(p.skipped_fps, 1) },
  { title: 'E2E P50', cell: (p) => ms(p.end_to_end_ms_p50) },
  { title: 'E2E P99', cell: (p) => ms(p.end_to_end_ms_p99) },
  { title: 'DET P50', cell: (p) => ms(p.detector_ms_p50) },
  { title: 'DET P99', cell: (p) => ms(p.detector_ms_p99) },
  { title: 'SEG P50', cell: (p) => ms(p.segmenter_ms_p50) },
  { title: 'ELD P99', cell: (p) => ms(p.event_loop_delay_ms_p99) },
  { title: 'CPU%', cell: (p) => num(p.cpu_percent, 0) },
  { title: 'RSS MB', cell: (p) => num(p.rss_mb, 0) },
  { title: 'TEMP C', cell: (p) => num(p.soc_temp_c, 1) },
  { title: 'THROTTLE', cell: throttleCell },
  { title: 'ERRORS', cell: errorsCell },
];

/** The table body: one row per device, fixed columns, padded to the widest cell. */
export function renderTable(rows: ReadonlyMap<string, Row>, now: number): string {
  const header = ['DEVICE', 'AGE', ...COLUMNS.map((c) => c.title)];
  const body = [...rows.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([device, r]) => [device, `${Math.max(0, Math.round((now - r.receivedAt) / 1000))}s`, ...COLUMNS.map((c) => c.cell(r.payload))]);
  if (body.length === 0) return 'waiting for stats…\n';
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...body.map(line)].join('\n') + '\n';
}

function num(x: unknown, digits: number): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '-';
}

function ms(x: unknown): string {
  return typeof x === 'number' && Number.isFinite(x) ? (x < 10 ? x.toFixed(1) : String(Math.round(x))) + 'ms' : '-';
}

function throttleCell(p: Row['payload']): string {
  if (typeof p.throttled_raw !== 'number') return '-';
  if (p.throttled_raw === 0) return 'ok';
  const names: [keyof StatsPayload, keyof StatsPayload, string][] = [
    ['under_voltage_now', 'under_voltage_since_boot', 'uv'],
    ['freq_capped_now', 'freq_capped_since_boot', 'cap'],
    ['throttled_now', 'throttled_since_boot', 'thr'],
    ['soft_temp_limit_now', 'soft_temp_limit_since_boot', 'temp'],
  ];
  // upper case: happening now; lower case: happened since boot
  return names
    .map(([now, past, n]) => (p[now] === true ? n.toUpperCase() : p[past] === true ? n : ''))
    .filter(Boolean)
    .join(',');
}

function errorsCell(p: Row['payload']): string {
  const keys: [string, string][] = [
    ['frames_corrupt_total', 'corrupt'],
    ['camera_restarts_total', 'cam'],
    ['worker_restarts_total', 'worker'],
    ['inference_errors_total', 'inf'],
    ['mqtt_queue_drops_total', 'drop'],
  ];
  const parts = keys.filter(([k]) => typeof p[k] === 'number' && (p[k] as number) > 0).map(([k, n]) => `${n}:${p[k] as number}`);
  return parts.length ? parts.join(' ') : '0';
}
