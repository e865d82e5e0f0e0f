import type { IClientOptions } from 'mqtt';
import type { LoadedConfig } from '../config/types.js';
import { fleetCommand, fleetTopics } from '../metrics/fleet-table.js';
import { connectionSettings, embeddedBrokerUrl, plainClientOptions } from '../mqtt/connection.js';
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
    if (!(s > 0) || !Number.isFinite(s))
      throw new UsageError(`--timeout must be a positive number of seconds, got ${JSON.stringify(values.timeout)}`);
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
  const url = urlOverride ?? m.url ?? embeddedBrokerUrl(m);
  const settings = connectionSettings(lc.config, lc.dir, { url, embedded: !(m.url || urlOverride), clientId: `edgesight_${who}_${process.pid}` });
  return { url, mqtt: plainClientOptions(settings) };
}
