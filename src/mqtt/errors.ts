/**
 * One clear sentence per MQTT failure, naming what to change. mqtt.js surfaces TLS errors with Node's
 * codes and CONNACK refusals with their reason codes (3.1.1: 4/5; MQTT 5: 134/135).
 */
export function describeMqttError(message: string, code: string | undefined, url: string): string {
  let where = url;
  try {
    const u = new URL(url);
    where = `${u.hostname}:${u.port || (u.protocol.startsWith('mqtts') ? '8883' : '1883')}`;
  } catch {
    /* keep the raw url */
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
    case '4':
    case '134':
      return `MQTT broker ${where} rejected the credentials (bad username or password): check mqtt.username and mqtt.password_file (retrying)`;
    case '5':
    case '135':
      return `MQTT broker ${where} refused: not authorised (check the broker's ACL for this user/client id) (retrying)`;
  }
  if (/alert certificate required|alert handshake failure|alert bad certificate|certificate unknown/i.test(message)) {
    return `TLS: MQTT broker ${where} requires a client certificate it accepts: set mqtt.cert and mqtt.key (${message}) (retrying)`;
  }
  if (/Bad username or password/i.test(message)) return describeMqttError(message, '4', url);
  if (/Not authori[sz]ed/i.test(message)) return describeMqttError(message, '5', url);
  return `MQTT error with ${where}: ${message} (retrying)`;
}
