import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { IClientOptions } from 'mqtt';
import { statsCommand, statsTopic } from '../metrics/stats-cli.js';
import { parse, UsageError } from './args.js';
import { STATS } from './commands.js';
import { loadConfigOrExit } from './common.js';

export async function statsCliCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, STATS.options, false);
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
  const m = lc.config.mqtt;
  try {
    statsTopic(m.base_topic, values.device);
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^stats: /, ''));
  }
  const url = values.url ?? m.url ?? `mqtt://${m.embedded_broker.host.includes(':') ? `[${m.embedded_broker.host}]` : m.embedded_broker.host}:${m.embedded_broker.port}`;
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
  const mqttOpts: IClientOptions = {
    clientId: `edgesight_stats_${process.pid}`,
    // the embedded broker speaks 3.1.1 only
    protocolVersion: m.url || values.url ? m.protocol_version : 4,
    ...(m.username ? { username: m.username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(m.ca || m.cert || m.key ? { ca: read('ca'), cert: read('cert'), key: read('key') } : {}),
    rejectUnauthorized: m.reject_unauthorized,
  };

  const ac = new AbortController();
  const onSignal = (): void => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await statsCommand({
      url,
      baseTopic: m.base_topic,
      device: values.device,
      once: values.once ?? false,
      out: process.stdout,
      err: process.stderr,
      isTTY: Boolean(process.stdout.isTTY),
      signal: ac.signal,
      timeoutMs: values.once ? (timeoutMs ?? 120_000) : undefined,
      mqtt: mqttOpts,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
