import { connect, type IClientOptions } from 'mqtt';

/**
 * `edgesight fleet`: every device on the broker in one live table, from what each daemon already
 * publishes — `<base>/<device>/availability` (retained, the last will), `info` (retained: models,
 * start time), `stats` (periodic) and the retained per-label counts `<base>/<device>/<camera>/objects/<label>`.
 */
export interface FleetOptions {
  url: string;
  baseTopic: string;
  /** one device; all (`+`) when absent */
  device?: string;
  /** one JSON object per device per change instead of a table */
  json: boolean;
  /** return after the first full table (every device with its stats, or offline) */
  once: boolean;
  /** with `once`: give up after this long, printing what is known (resolves false) */
  timeoutMs?: number;
  out: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
  /** colours and in-place redraw */
  isTTY: boolean;
  signal?: AbortSignal;
  mqtt?: IClientOptions;
  /** quiet time after subscribing before a table can be "full" (retained messages still arriving); default 500 ms */
  settleMs?: number;
  now?: () => number;
}

export interface FleetRow {
  v: 1;
  device: string;
  /** online/offline from the availability topic; null when the device published none */
  status: 'online' | 'offline' | null;
  /** since when (ISO 8601): the daemon's start for online, the moment it was seen going offline; null when unknown */
  since: string | null;
  version: string | null;
  detector: string | null;
  precision: string | null;
  segmenter: string | null;
  fps: number | null;
  e2e_p99_ms: number | null;
  inference_p99_ms: number | null;
  soc_temp_c: number | null;
  /** Pi throttling: null off a Pi, '' when clear, else flags (upper case: now, lower case: since boot) */
  throttling: string | null;
  counts: Record<string, number>;
  last_error: string | null;
  last_error_at: string | null;
  /** the stats payload's own time (ISO 8601), null before the first */
  stats_at: string | null;
}

interface DeviceState {
  availability: 'online' | 'offline' | null;
  offlineSince: number | null;
  info: Record<string, unknown> | null;
  stats: Record<string, unknown> | null;
  statsReceivedAt: number | null;
  counts: Map<string, number>;
}

export class FleetModel {
  readonly devices = new Map<string, DeviceState>();

  constructor(
    readonly baseTopic: string,
    private readonly now: () => number = Date.now,
  ) {}

  private state(device: string): DeviceState {
    let s = this.devices.get(device);
    if (!s) {
      s = { availability: null, offlineSince: null, info: null, stats: null, statsReceivedAt: null, counts: new Map() };
      this.devices.set(device, s);
    }
    return s;
  }

  /** Applies one message; returns the device it changed (null when the message is not one of ours or is invalid). */
  apply(topic: string, payload: Buffer, retained: boolean): { device: string } | { error: string } | null {
    const prefix = this.baseTopic + '/';
    if (!topic.startsWith(prefix)) return null;
    const levels = topic.slice(prefix.length).split('/');
    const device = levels[0];
    if (!device) return null;
    const text = payload.toString('utf8');
    if (levels.length === 2 && levels[1] === 'availability') {
      if (text !== 'online' && text !== 'offline')
        return { error: `${topic}: availability must be online or offline, got ${JSON.stringify(text.slice(0, 40))}` };
      const s = this.state(device);
      if (text === 'offline' && s.availability !== 'offline') s.offlineSince = retained ? null : this.now();
      s.availability = text;
      return { device };
    }
    if (levels.length === 2 && (levels[1] === 'info' || levels[1] === 'stats')) {
      if (text === '') return null; // a cleared retained message
      let v: unknown;
      try {
        v = JSON.parse(text);
      } catch {
        return { error: `${topic}: payload is not JSON` };
      }
      // version 2 only added `seq` (and new counters): a fleet being upgraded reports both
      const ver = (v as { v?: unknown } | null)?.v;
      if (typeof v !== 'object' || v === null || Array.isArray(v) || (ver !== 1 && ver !== 2))
        return { error: `${topic}: not a version 1 or 2 JSON object` };
      const s = this.state(device);
      if (levels[1] === 'info') s.info = v as Record<string, unknown>;
      else {
        s.stats = v as Record<string, unknown>;
        s.statsReceivedAt = this.now();
      }
      return { device };
    }
    if (levels.length === 4 && levels[2] === 'objects') {
      if (text === '') return null;
      if (!/^(0|[1-9]\d*)$/.test(text)) return { error: `${topic}: count must be a non-negative integer, got ${JSON.stringify(text.slice(0, 40))}` };
      this.state(device).counts.set(`${levels[1]}/${levels[3]}`, Number(text));
      return { device };
    }
    return null;
  }

  /** A device is complete once its stats arrived, or it is offline, or nothing says it is online. */
  complete(device: string): boolean {
    const s = this.devices.get(device);
    if (!s) return false;
    return s.stats !== null || s.availability === 'offline' || (s.availability === null && s.info === null);
  }

  allComplete(): boolean {
    return this.devices.size > 0 && [...this.devices.keys()].every((d) => this.complete(d));
  }

  row(device: string): FleetRow {
    const s = this.devices.get(device)!;
    const info = s.info ?? {};
    const st = s.stats ?? {};
    const models = (info.models ?? {}) as { detector?: { name?: unknown; precision?: unknown }; segmenter?: { name?: unknown } | null };
    const cameras = new Set([...s.counts.keys()].map((k) => k.split('/')[0]));
    const counts: Record<string, number> = {};
    for (const [k, n] of [...s.counts.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      const [camera, label] = k.split('/') as [string, string];
      const key = cameras.size > 1 ? `${camera}/${label}` : label;
      counts[key] = (counts[key] ?? 0) + n;
    }
    const startedAt = typeof info.started_at === 'number' ? info.started_at : null;
    const since = s.availability === 'online' ? startedAt : s.availability === 'offline' ? s.offlineSince : null;
    return {
      v: 1,
      device,
      status: s.availability,
      since: since === null ? null : new Date(since).toISOString(),
      version: str(info.version),
      detector: str(models.detector?.name),
      precision: str(models.detector?.precision),
      segmenter: models.segmenter ? str(models.segmenter.name) : null,
      fps: num(st.processed_fps),
      e2e_p99_ms: num(st.end_to_end_ms_p99),
      inference_p99_ms: num(st.inference_ms_p99),
      soc_temp_c: num(st.soc_temp_c),
      throttling: throttling(st),
      counts,
      last_error: str(st.last_error),
      last_error_at: str(st.last_error_at),
      stats_at: str(st.ts),
    };
  }

  /** Online first, then offline, then unknown; by device id within each. */
  rows(): FleetRow[] {
    const rank = (r: FleetRow): number => (r.status === 'online' ? 0 : r.status === 'offline' ? 1 : 2);
    return [...this.devices.keys()].map((d) => this.row(d)).sort((a, b) => rank(a) - rank(b) || a.device.localeCompare(b.device));
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function throttling(st: Record<string, unknown>): string | null {
  if (typeof st.throttled_raw !== 'number') return null;
  const names: [string, string][] = [
    ['under_voltage', 'uv'],
    ['freq_capped', 'cap'],
    ['throttled', 'thr'],
    ['soft_temp_limit', 'temp'],
  ];
  return names
    .map(([k, n]) => (st[`${k}_now`] === true ? n.toUpperCase() : st[`${k}_since_boot`] === true ? n : ''))
    .filter(Boolean)
    .join(',');
}

const ANSI = { red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', dim: '\x1b[2m', bold: '\x1b[1m', reset: '\x1b[0m' };

function ago(iso: string | null, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m`
      : s < 86_400
        ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
        : `${Math.floor(s / 86_400)}d`;
}

const ms = (x: number | null): string => (x === null ? '-' : (x < 10 ? x.toFixed(1) : String(Math.round(x))) + 'ms');

/** The table: one row per device; colour marks offline, heat, throttling and errors when `colour`. */
export function renderFleetTable(rows: readonly FleetRow[], now: number, colour: boolean): string {
  if (rows.length === 0) return 'no devices yet…\n';
  type Cell = { text: string; colour?: string };
  const header = ['DEVICE', 'STATUS', 'SINCE', 'MODEL', 'FPS', 'E2E P99', 'INF P99', 'TEMP', 'THROTTLE', 'COUNTS', 'LAST ERROR'];
  const body: Cell[][] = rows.map((r) => {
    const counts = Object.entries(r.counts)
      .filter(([, n]) => n > 0)
      .map(([l, n]) => `${l}=${n}`)
      .join(' ');
    const err = r.last_error ? (r.last_error.length > 48 ? r.last_error.slice(0, 47) + '…' : r.last_error) : '';
    return [
      { text: r.device, colour: ANSI.bold },
      { text: r.status ?? '?', colour: r.status === 'online' ? ANSI.green : r.status === 'offline' ? ANSI.red : ANSI.yellow },
      { text: ago(r.since, now) },
      { text: r.detector ? `${r.detector.replace(/_coco$|_voc$/, '')}/${r.precision ?? '?'}` : '-' },
      { text: r.fps === null ? '-' : r.fps.toFixed(1) },
      { text: ms(r.e2e_p99_ms) },
      { text: ms(r.inference_p99_ms) },
      {
        text: r.soc_temp_c === null ? '-' : `${r.soc_temp_c.toFixed(1)}C`,
        colour: r.soc_temp_c !== null && r.soc_temp_c >= 80 ? ANSI.red : r.soc_temp_c !== null && r.soc_temp_c >= 70 ? ANSI.yellow : undefined,
      },
      {
        text: r.throttling === null ? '-' : r.throttling || 'ok',
        colour: r.throttling && /[A-Z]/.test(r.throttling) ? ANSI.red : r.throttling ? ANSI.yellow : undefined,
      },
      { text: counts || '-' },
      { text: err || '-', colour: err ? ANSI.yellow : undefined },
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.text.length)));
  const numeric = new Set([4, 5, 6, 7]);
  const pad = (t: string, i: number): string => (numeric.has(i) ? t.padStart(widths[i]!) : t.padEnd(widths[i]!));
  const line = (cells: Cell[]): string =>
    cells
      .map((c, i) => (colour && c.colour ? c.colour + pad(c.text, i) + ANSI.reset : pad(c.text, i)))
      .join('  ')
      .trimEnd();
  const head = line(header.map((text) => ({ text, colour: ANSI.dim })));
  return [head, ...body.map(line)].join('\n') + '\n';
}

export function fleetTopics(baseTopic: string, device?: string): string[] {
  const base = baseTopic.replace(/\/+$/, '');
  if (base === '' || /[+#]/.test(base))
    throw new Error(`fleet: base topic must be non-empty and without wildcards, got ${JSON.stringify(baseTopic)}`);
  if (device !== undefined && (device === '' || /[+#/]/.test(device)))
    throw new Error(`fleet: --device must be one topic level without / + #, got ${JSON.stringify(device)}`);
  const d = device ?? '+';
  return [`${base}/${d}/availability`, `${base}/${d}/info`, `${base}/${d}/stats`, `${base}/${d}/+/objects/+`];
}

/**
 * Runs the fleet view until `signal` aborts, or with `once` until the first full table. Resolves true
 * when a full table was printed, false when `once` timed out (what was known is printed anyway).
 */
export function fleetCommand(opts: FleetOptions): Promise<boolean> {
  const topics = fleetTopics(opts.baseTopic, opts.device);
  const now = opts.now ?? Date.now;
  const model = new FleetModel(opts.baseTopic.replace(/\/+$/, ''), now);
  const err = opts.err ?? process.stderr;
  const colour = opts.isTTY;
  const lastJson = new Map<string, string>();
  let status = 'connecting';
  let subscribedAt: number | null = null;
  let lastNewDevice = 0;
  const settleMs = opts.settleMs ?? 500;

  const client = connect(opts.url, {
    reconnectPeriod: opts.once ? 0 : 2000,
    connectTimeout: 10_000,
    clientId: `edgesight_fleet_${process.pid}_${Math.random().toString(16).slice(2, 8)}`,
    ...opts.mqtt,
  });

  const table = (): string => renderFleetTable(model.rows(), now(), colour);
  const emitJson = (device: string): void => {
    const row = JSON.stringify(model.row(device));
    if (lastJson.get(device) === row) return;
    lastJson.set(device, row);
    opts.out.write(row + '\n');
  };

  return new Promise<boolean>((resolve, reject) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    let dirty = false;
    const finish = (result: boolean | Error): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearInterval(t);
      opts.signal?.removeEventListener('abort', onAbort);
      const done = (): void => (result instanceof Error ? reject(result) : resolve(result));
      client.endAsync(true).then(done, done);
    };
    const printFull = (full: boolean): void => {
      if (opts.json) for (const r of model.rows()) emitJson(r.device);
      else opts.out.write(table());
      if (!full)
        err.write(
          `fleet: not every device reported stats within ${opts.timeoutMs} ms (${[...model.devices.keys()].filter((d) => !model.complete(d)).length} waiting)\n`,
        );
    };
    const checkFull = (): void => {
      if (!opts.once || subscribedAt === null) return;
      const t = now();
      if (t - subscribedAt >= settleMs && t - lastNewDevice >= settleMs && model.allComplete()) {
        printFull(true);
        finish(true);
      }
    };
    const redraw = (): void => {
      if (opts.once || opts.json) return;
      if (opts.isTTY)
        opts.out.write(
          '\x1b[H\x1b[2J' +
            `edgesight fleet  ${opts.url}  ${opts.baseTopic}  [${status}]  ${model.devices.size} device(s)  (Ctrl-C to quit)\n\n` +
            table(),
        );
      else if (dirty) opts.out.write(table() + '\n');
      dirty = false;
    };
    const onAbort = (): void => finish(true);
    if (opts.signal?.aborted) return finish(true);
    opts.signal?.addEventListener('abort', onAbort);

    if (opts.once) {
      timers.push(setInterval(checkFull, 100));
      if (opts.timeoutMs !== undefined) {
        timers.push(
          setTimeout(() => {
            if (model.devices.size === 0)
              return finish(new Error(`no device on ${topics[0]} (and the other fleet topics) at ${opts.url} within ${opts.timeoutMs} ms`));
            printFull(false);
            finish(false);
          }, opts.timeoutMs),
        );
      }
    } else if (!opts.json) {
      redraw();
      // a terminal redraws at most every 250 ms (200 devices' retained messages arrive at once), ages tick each second
      timers.push(setInterval(() => (opts.isTTY || dirty) && redraw(), opts.isTTY ? 1000 : 250));
    }

    client.on('connect', () => {
      status = 'connected';
      client.subscribeAsync(topics, { qos: 0 }).then(
        (grants) => {
          if (grants.some((g) => g.qos === 128)) return finish(new Error(`broker refused the subscription to ${topics.join(', ')}`));
          subscribedAt = now();
          if (!opts.once && !opts.json && opts.isTTY) redraw();
        },
        (e: unknown) => finish(new Error(`subscribe failed: ${e instanceof Error ? e.message : String(e)}`)),
      );
    });
    client.on('error', (e) => {
      const msg = `mqtt ${opts.url}: ${e.message}`;
      if (opts.once) return finish(new Error(msg));
      status = `error: ${e.message}`;
      if (!opts.isTTY) err.write(msg + '\n');
    });
    client.on('close', () => {
      if (opts.once && !settled) return finish(new Error(`mqtt ${opts.url}: connection closed before the table was complete`));
      if (status === 'connected') status = 'disconnected, retrying';
    });
    client.on('message', (topic, payload, packet) => {
      const known = model.devices.size;
      const r = model.apply(topic, payload, packet.retain);
      if (r === null) return;
      if ('error' in r) {
        err.write(`ignoring ${r.error}\n`);
        return;
      }
      if (model.devices.size !== known) lastNewDevice = now();
      if (opts.json && !opts.once) emitJson(r.device);
      dirty = true;
      if (opts.isTTY && !opts.once && !opts.json) return; // the timer redraws
    });
  });
}
