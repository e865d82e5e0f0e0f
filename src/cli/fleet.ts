import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { IClientOptions } from 'mqtt';
import type { LoadedConfig } from '../config/types.js';
import { fleetCommand, fleetTopics } from '../metrics/fleet-table.js';
import { parse, UsageError } from './args.js';
import { FLEET } from './commands.js';
import { loadConfigOrExit } from './common.js';


export async function fleetCliCommand(argv: string[], opts: { alias?: 'stats' } = {}): Promise<number> {
  const { values } = parse(argv, FLEET.options, false);
  if (values.url !== undefined && !/^(mqtts?|wss?|tcp|ssl):\/\/./.test(values.url)) {
    throw new UsageError(`--url must be a broker URL like mqtt://host:1883, got ${JSON.stringify(values.url)}`);
  }
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const s = Number(values.timeout);
    if (!(s > 0) || !Number.isFinite(s)) throw new UsageError(`--timeout must be a positive number of seconds, got ${JSON.stringify(values.timeout)}`);
    if (!values.once) throw new UsageError('--timeout applies with --once');
    timeoutMs = s * 1000;
  }
  const lc = loadConfigOrExit(values.config);
  const base = values.base ?? lc.config.mqtt.base_topic;
  try {
    fleetTopics(base, values.device);
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^fleet: /, ''));
  }
  const { url, mqtt } = brokerOptions(lc, values.url, 'fleet');
  const tty = Boolean(process.stdout.isTTY);
  const ac = new AbortController();
  const onSignal = (): void => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const full = await fleetCommand({
      url,
      baseTopic: base,
      device: values.device,
      // `stats` always printed JSON lines when piped; keep that for scripts written against it
      json: values.json ?? (opts.alias === 'stats' && !tty),
      once: values.once ?? false,
      timeoutMs: values.once ? (timeoutMs ?? 120_000) : undefined,
      out: process.stdout,
      err: process.stderr,
      isTTY: tty,
      signal: ac.signal,
      mqtt,
    });
    return full ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The broker URL and client options (credentials, TLS) a CLI client uses, from the config; `--url` wins. */
export function brokerOptions(lc: LoadedConfig, urlOverride: string | undefined, who: string): { url: string; mqtt: IClientOptions } {
  const m = lc.config.mqtt;
  const host = m.embedded_broker.host.includes(':') ? `[${m.embedded_broker.host}]` : m.embedded_broker.host;
  const url = urlOverride ?? m.url ?? `mqtt://${host}:${m.embedded_broker.port}`;
  const read = (key: 'ca' | 'cert' | 'key' | 'password_file'): Buffer | undefined => {
    const f = m[key];
    if (!f) return undefined;
    const file = path.resolve(lc.dir, f);
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`mqtt.${key} ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  };
  const password = m.password_file ? read('password_file')!.toString('utf8').trim() : (m.password ?? undefined);
  return {
    url,
    mqtt: {
      clientId: `edgesight_${who}_${process.pid}`,
      // the embedded broker speaks 3.1.1 only
      protocolVersion: m.url || urlOverride ? m.protocol_version : 4,
      ...(m.username ? { username: m.username } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(m.ca || m.cert || m.key ? { ca: read('ca'), cert: read('cert'), key: read('key') } : {}),
      rejectUnauthorized: m.reject_unauthorized,
    },
  };
}
