import { createSecureContext } from 'node:tls';
import type { ConfigProblem } from '../config/errors.js';

/** What the client sent, so a refusal can name the setting to change. Never holds the password itself. */
export interface MqttErrorContext {
  username?: string | null;
  /** a password was configured (from mqtt.password_file, mqtt.password or the environment) */
  hasPassword?: boolean;
  /** mqtt.cert/mqtt.key were configured */
  hasClientCert?: boolean;
}

/**
 * One clear sentence per MQTT failure, naming what to change. mqtt.js surfaces TLS errors with Node's
 * codes and CONNACK refusals with their reason codes (3.1.1: 4/5; MQTT 5: 134/135). The codes below
 * are the ones the TLS tests see from a real mosquitto 2.0 (test/e2e/tls-errors.test.ts); note that
 * mosquitto answers a wrong password with "not authorised" (5/135), not "bad username or password".
 */
export function describeMqttError(message: string, code: string | undefined, url: string, ctx: MqttErrorContext = {}): string {
  let where = url;
  try {
    const u = new URL(url);
    where = `${u.hostname}:${u.port || (u.protocol.startsWith('mqtts') || u.protocol.startsWith('ssl') ? '8883' : '1883')}`;
  } catch {
    /* keep the raw url */
  }
  // A refused PUBLISH (MQTT 5 PUBACK 135) arrives as a message from the publisher, without a code.
  if (/^publish to \S+ failed: .*not authori[sz]ed/i.test(message)) {
    return `MQTT broker ${where} refused a publish: not authorised; the broker's ACL must let this user/client id write its topics (such messages are lost)`;
  }
  switch (code) {
    case 'ECONNREFUSED':
      return `MQTT broker ${where} refused the connection: is it running and listening there? (retrying)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `MQTT broker host of ${where} cannot be resolved (DNS): check mqtt.url (retrying)`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `MQTT broker ${where} is unreachable (${code}): network or firewall (retrying)`;
    case 'ECONNRESET':
      return `MQTT broker ${where} closed the connection during the handshake (ECONNRESET): mqtts:// on a plain port or mqtt:// on a TLS port? check the scheme and port in mqtt.url (retrying)`;
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
      return `TLS: the certificate of MQTT broker ${where} is signed by an unknown CA (${code}): set mqtt.ca to the CA file that signed it (retrying)`;
    case 'CERT_HAS_EXPIRED':
      return `TLS: the certificate of MQTT broker ${where} has expired: renew it on the broker (retrying)`;
    case 'CERT_NOT_YET_VALID':
      return `TLS: the certificate of MQTT broker ${where} is not valid yet: check the clocks (a Pi without RTC needs NTP) (retrying)`;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return `TLS: the certificate of MQTT broker ${where} is not valid for this host name: use the name in its certificate in mqtt.url (retrying)`;
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `TLS: ${where} does not speak TLS: use mqtt:// for a plain listener or the broker's TLS port (retrying)`;
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
      return `TLS: MQTT broker ${where} requires a client certificate: set mqtt.cert and mqtt.key (retrying)`;
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
      return `TLS: MQTT broker ${where} does not trust the client certificate in mqtt.cert: it is not signed by a CA in the broker's cafile (retrying)`;
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED':
      return `TLS: MQTT broker ${where} rejected the client certificate in mqtt.cert as expired: issue a new one (retrying)`;
    case 'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE':
      return `TLS: MQTT broker ${where} rejected the client certificate in mqtt.cert as unsupported: it needs extendedKeyUsage clientAuth (retrying)`;
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
    case 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE':
      return `TLS: MQTT broker ${where} rejected the TLS handshake (${code}): ${ctx.hasClientCert ? 'check that it trusts mqtt.cert' : 'it may require a client certificate (mqtt.cert, mqtt.key)'} (retrying)`;
    case '4':
    case '134':
      return `MQTT broker ${where} rejected the credentials (bad username or password): check mqtt.username and mqtt.password_file (retrying)`;
    case '5':
    case '135':
      return refusedAtConnect(where, ctx);
  }
  if (/alert certificate required|alert handshake failure|alert bad certificate|certificate unknown/i.test(message)) {
    return `TLS: MQTT broker ${where} requires a client certificate it accepts: set mqtt.cert and mqtt.key (${message.trim()}) (retrying)`;
  }
  if (/Bad username or password/i.test(message)) return describeMqttError(message, '4', url, ctx);
  if (/Not authori[sz]ed/i.test(message)) return describeMqttError(message, '5', url, ctx);
  return `MQTT error with ${where}: ${message.trim()} (retrying)`;
}

/** CONNACK "not authorised": mosquitto's answer to a missing login, a wrong password and a denied client alike. */
function refusedAtConnect(where: string, ctx: MqttErrorContext): string {
  if (!ctx.username) {
    return `MQTT broker ${where} refused the connection: not authorised without a login; set mqtt.username and mqtt.password_file (retrying)`;
  }
  if (!ctx.hasPassword) {
    return `MQTT broker ${where} refused user ${JSON.stringify(ctx.username)}: not authorised and no password is configured; set mqtt.password_file (or EDGESIGHT__MQTT__PASSWORD) (retrying)`;
  }
  return `MQTT broker ${where} refused the login of user ${JSON.stringify(ctx.username)}: not authorised (wrong password, unknown user, or the user/client id is not allowed); check mqtt.username and the password in mqtt.password_file (retrying)`;
}

/**
 * Checks TLS material read from mqtt.ca/cert/key before connecting, so a wrong file is a config error
 * naming the key instead of an exception from deep inside the MQTT client (which would otherwise throw
 * on every reconnect). `files` are the resolved paths, for the messages.
 */
export function tlsMaterialProblems(
  m: { ca?: Buffer; cert?: Buffer; key?: Buffer },
  files: { ca?: string; cert?: string; key?: string },
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (m.ca && !/-----BEGIN CERTIFICATE-----/.test(m.ca.toString('latin1'))) {
    problems.push({ path: 'mqtt.ca', message: `${files.ca} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` });
  }
  if (m.cert && !m.key)
    problems.push({ path: 'mqtt.key', message: 'mqtt.cert is set but mqtt.key is not: a client certificate needs its private key' });
  if (m.key && !m.cert) problems.push({ path: 'mqtt.cert', message: 'mqtt.key is set but mqtt.cert is not: set the client certificate too' });
  if (m.cert && !/-----BEGIN CERTIFICATE-----/.test(m.cert.toString('latin1'))) {
    problems.push({ path: 'mqtt.cert', message: `${files.cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` });
  }
  if (m.key && !/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(m.key.toString('latin1')))
    problems.push({ path: 'mqtt.key', message: `${files.key} holds no PEM private key` });
  if (problems.length === 0 && m.cert && m.key) {
    try {
      createSecureContext({ cert: m.cert, key: m.key });
    } catch (e) {
      const err = e as Error & { code?: string };
      if (err.code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH') {
        problems.push({ path: 'mqtt.key', message: `${files.key} is not the private key of the certificate ${files.cert}` });
      } else {
        problems.push({ path: 'mqtt.key', message: `${files.cert} / ${files.key} cannot be used: ${err.message}` });
      }
    }
  }
  return problems;
}
