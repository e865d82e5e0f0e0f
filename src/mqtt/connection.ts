import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { IClientOptions } from 'mqtt';
import type { Config } from '../config/types.js';
import type { ConfigProblem } from '../config/errors.js';
import { tlsMaterialProblems } from './errors.js';

/**
 * How to reach the broker, from the config: URL, client id, credentials (the password from
 * mqtt.password_file when set), TLS material read from the PEM files and checked. One place for the
 * daemon (at start and on SIGHUP), the `fleet`/`stats` command and the bench.
 */
export interface ConnectionSettings {
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  keepaliveS: number;
  protocolVersion: 4 | 5;
  reconnectMaxS: number;
  /** TLS material, already read from files; absent for a plain connection */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
}

type Mqtt = Config['mqtt'];
type PemKey = 'ca' | 'cert' | 'key';

/** The embedded broker (aedes) speaks MQTT 3.1.1 only. */
export const EMBEDDED_PROTOCOL = 4;

/** `mqtt://host:port` of the embedded broker as configured (IPv6 hosts in brackets). */
export function embeddedBrokerUrl(m: Mqtt): string {
  const host = m.embedded_broker.host.includes(':') ? `[${m.embedded_broker.host}]` : m.embedded_broker.host;
  return `mqtt://${host}:${m.embedded_broker.port}`;
}

/** TLS is used for a TLS URL scheme or when any PEM file is configured. */
export function tlsWanted(m: Mqtt, url: string): boolean {
  return Boolean(m.ca || m.cert || m.key || /^(mqtts|wss|ssl):/.test(url));
}

/** Reads a file named by an mqtt.* key (relative to the config file); a failure names the key and the file. */
function readKeyFile(m: Mqtt, key: PemKey | 'password_file', dir: string): Buffer | undefined {
  const f = m[key];
  if (!f) return undefined;
  const file = path.resolve(dir, f);
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`mqtt.${key} ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** The password: mqtt.password_file's contents (trimmed) when set, else mqtt.password. Read afresh on every call (a rotated secret). */
export function readPassword(m: Mqtt, dir: string): string | undefined {
  const fromFile = readKeyFile(m, 'password_file', dir);
  return fromFile ? fromFile.toString('utf8').trim() : (m.password ?? undefined);
}

/**
 * The settings for `url`, files read now (a file that cannot be read throws, naming the key and the
 * file). `embedded`: the broker is the embedded one (3.1.1).
 */
export function connectionSettings(cfg: Config, dir: string, opts: { url: string; embedded: boolean; clientId?: string }): ConnectionSettings {
  const m = cfg.mqtt;
  const tls = tlsWanted(m, opts.url)
    ? { ca: readKeyFile(m, 'ca', dir), cert: readKeyFile(m, 'cert', dir), key: readKeyFile(m, 'key', dir), rejectUnauthorized: m.reject_unauthorized }
    : undefined;
  const password = readPassword(m, dir);
  return {
    url: opts.url,
    clientId: opts.clientId ?? m.client_id ?? `edgesight_${cfg.device.id}`,
    ...(m.username ? { username: m.username } : {}),
    ...(password !== undefined ? { password } : {}),
    keepaliveS: m.keepalive_s,
    protocolVersion: opts.embedded ? EMBEDDED_PROTOCOL : m.protocol_version,
    reconnectMaxS: m.reconnect_max_s,
    ...(tls ? { tls } : {}),
  };
}

/**
 * PEM files that hold no certificate, or a key not matching the certificate: config problems naming the
 * key, found before connecting instead of as an exception from inside the MQTT client on every reconnect.
 */
export function connectionProblems(cfg: Config, dir: string, s: ConnectionSettings): ConfigProblem[] {
  if (!s.tls) return [];
  const m = cfg.mqtt;
  const at = (k: PemKey): string | undefined => (m[k] ? path.resolve(dir, m[k]!) : undefined);
  return tlsMaterialProblems(s.tls, { ca: at('ca'), cert: at('cert'), key: at('key') });
}

/** Settings for a client of an embedded broker started in this process (bench): no credentials, no TLS. */
export function embeddedConnection(url: string, clientId: string): ConnectionSettings {
  return { url, clientId, keepaliveS: 30, protocolVersion: EMBEDDED_PROTOCOL, reconnectMaxS: 1 };
}

/** mqtt.js options of a short-lived client (the fleet view): the connection settings, nothing of the publisher's queueing. */
export function plainClientOptions(s: ConnectionSettings): IClientOptions {
  return {
    clientId: s.clientId,
    protocolVersion: s.protocolVersion,
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.password !== undefined ? { password: s.password } : {}),
    ...(s.tls ? { ca: s.tls.ca, cert: s.tls.cert, key: s.tls.key } : {}),
    rejectUnauthorized: s.tls?.rejectUnauthorized ?? true,
  };
}
