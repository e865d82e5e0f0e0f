import net from 'node:net';
import { Aedes } from 'aedes';

/** The embedded broker's port is taken or not allowed: the process cannot serve, whatever else is right. */
export class BrokerListenError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'BrokerListenError';
  }

  readonly syscall = 'listen';
}

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * A broker inside the process for the demo and first steps (no mosquitto needed). Loopback by default;
 * a real deployment points mqtt.url at its own broker.
 */
export async function startEmbeddedBroker(host: string, port: number): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker();
  const server = net.createServer(aedes.handle);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (e) {
    // aedes runs a heartbeat timer from creation: left open, it keeps a failed daemon alive forever
    await new Promise<void>((r) => aedes.close(() => r()));
    const code = (e as NodeJS.ErrnoException).code;
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    if (code === 'EADDRINUSE') {
      throw new BrokerListenError(
        `the embedded MQTT broker cannot listen on ${where}: the port is taken (another MQTT broker, e.g. mosquitto, already runs there?). ` +
          `Use that broker: set \`mqtt.url: mqtt://127.0.0.1:${port}\` in the config (or EDGESIGHT__MQTT__URL), or move the embedded one with mqtt.embedded_broker.port`,
        code,
      );
    }
    throw new BrokerListenError(
      `the embedded MQTT broker cannot listen on ${where}: ${code ?? (e as Error).message}${code === 'EACCES' ? ' (ports below 1024 need privileges: choose mqtt.embedded_broker.port ≥ 1024)' : ''}`,
      code,
    );
  }
  const actual = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${actual}`,
    port: actual,
    close: () =>
      new Promise<void>((resolve) => {
        aedes.close(() => server.close(() => resolve()));
      }),
  };
}
