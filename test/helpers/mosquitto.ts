import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface MosquittoOptions {
  /** fixed port; default a free loopback port */
  port?: number;
  /**
   * appended to the generated config (e.g. `max_queued_messages 10`); a function receives the
   * `extraPorts` free ports (for extra listeners such as TLS ones)
   */
  extraConfig?: string | ((extraPorts: number[]) => string);
  /** written before the default listener: global options such as `per_listener_settings true` */
  preConfig?: string;
  /** how many more free loopback ports to pick for listeners declared in `extraConfig` */
  extraPorts?: number;
  /** default /usr/sbin/mosquitto or $MOSQUITTO_BIN */
  bin?: string;
}

export interface Mosquitto {
  url: string;
  port: number;
  /** the `extraPorts` ports, in the order given to `extraConfig` */
  extraPorts: number[];
  /** the broker's output so far (for assertion messages; across restarts) */
  log(): string;
  stop(): Promise<void>;
  /**
   * After stop(): start mosquitto again on the same port with the same config, so clients that retry
   * `url` find it back (a broker outage). Retries for a few seconds if the port is not free yet.
   */
  start(): Promise<void>;
  /** true between a successful start and stop() */
  readonly running: boolean;
}

/**
 * Starts a real mosquitto on 127.0.0.1 for a test, waits until it accepts TCP connections and
 * returns its URL. A free port is picked by binding port 0; if mosquitto then loses the race for it
 * (another process took it) the start is retried with a new port.
 */
export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const attempts = opts.port === undefined ? 3 : 1;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      const port = opts.port ?? (await freePort());
      const extraPorts = await freePorts(opts.extraPorts ?? 0, [port]);
      return restartable(await startOnce(port, extraPorts, opts), extraPorts, opts);
    } catch (e) {
      lastError = e;
      if (!(e instanceof PortTakenError)) throw e;
    }
  }
  throw lastError;
}

interface Instance {
  port: number;
  log(): string;
  stop(): Promise<void>;
}

function restartable(first: Instance, extraPorts: number[], opts: MosquittoOptions): Mosquitto {
  let current: Instance | null = first;
  let earlierLogs = '';
  const port = first.port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    extraPorts,
    log: () => earlierLogs + (current?.log() ?? ''),
    get running() {
      return current !== null;
    },
    async stop() {
      if (!current) return;
      const c = current;
      current = null;
      earlierLogs += c.log();
      await c.stop();
    },
    async start() {
      if (current) throw new Error(`mosquitto on port ${port} is already running`);
      // The old listener's port can linger briefly after its process exits: retry only that case.
      const deadline = Date.now() + 5000;
      for (;;) {
        try {
          current = await startOnce(port, extraPorts, opts);
          return;
        } catch (e) {
          if (!(e instanceof PortTakenError) || Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    },
  };
}

class PortTakenError extends Error {}

async function startOnce(port: number, extraPorts: number[], opts: MosquittoOptions): Promise<Instance> {
  const bin = opts.bin ?? process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
  const dir = await mkdtemp(path.join(tmpdir(), 'edgesight-mosquitto-'));
  const conf = path.join(dir, 'mosquitto.conf');
  const extra = typeof opts.extraConfig === 'function' ? opts.extraConfig(extraPorts) : (opts.extraConfig ?? '');
  await writeFile(
    conf,
    [opts.preConfig ?? '', `listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', extra, ''].join('\n'),
  );

  const child = spawn(bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));

  const cleanup = async (): Promise<void> => {
    await stopChild(child, exited);
    await rm(dir, { recursive: true, force: true });
  };

  let dead = false;
  void exited.then(() => (dead = true));
  void spawnError.then(() => (dead = true));
  let first: 'ready' | Error | { code: number | null; signal: NodeJS.Signals | null };
  try {
    first = await Promise.race([waitForPort(port, 10_000, () => dead).then(() => 'ready' as const), exited, spawnError]);
  } catch (e) {
    await cleanup();
    throw new Error(`${(e as Error).message}; mosquitto output:\n${output}`);
  }
  if (first instanceof Error) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot start ${bin}: ${first.message} (install the Debian package mosquitto)`);
  }
  if (first !== 'ready') {
    await rm(dir, { recursive: true, force: true });
    const msg = `mosquitto exited (code ${first.code}, signal ${first.signal}) before listening on 127.0.0.1:${port}:\n${output}`;
    if (/address already in use/i.test(output)) throw new PortTakenError(msg);
    throw new Error(msg);
  }
  return { port, log: () => output, stop: cleanup };
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** `n` distinct free ports, none of them in `taken` */
async function freePorts(n: number, taken: number[]): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) {
    const p = await freePort();
    if (!taken.includes(p) && !out.includes(p)) out.push(p);
  }
  return out;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls until the port accepts a connection; gives up quietly once `stopped()` (the caller saw the exit). */
async function waitForPort(port: number, timeoutMs: number, stopped: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (stopped()) return;
    const ok = await new Promise<boolean>((resolve) => {
      const sock = createConnection({ port, host: '127.0.0.1' });
      sock.once('connect', () => {
        sock.destroy();
        resolve(true);
      });
      sock.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface SubMessage {
  topic: string;
  payload: Buffer;
  /** the QoS it was delivered with: min(publish QoS, subscription QoS 1) */
  qos: number;
}

export interface MosquittoSub {
  /** messages parsed so far */
  messages(): SubMessage[];
  /** resolves when mosquitto_sub exits (after -C/-W or stop()) with everything it printed */
  done: Promise<{ code: number | null; messages: SubMessage[]; stderr: string }>;
  stop(): Promise<void>;
}

/**
 * `mosquitto_sub` as an independent client (libmosquitto, not mqtt.js), subscribed at QoS 1, printing
 * `qos topic hex-payload` per message so binary payloads (snapshots) survive. `args` are extra flags (`-C 3`, `--retained-only`, `-W 5`).
 */
export function startMosquittoSub(
  port: number,
  topics: string[],
  args: string[] = [],
  bin = process.env.MOSQUITTO_SUB_BIN ?? '/usr/bin/mosquitto_sub',
): MosquittoSub {
  const argv = ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-F', '%q %t %x', ...topics.flatMap((t) => ['-t', t]), ...args];
  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const parse = (): SubMessage[] =>
    out
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => {
        const [qos, topic, hex] = l.split(' ') as [string, string, string | undefined];
        return { qos: Number(qos), topic, payload: Buffer.from(hex ?? '', 'hex') };
      });
  const done = new Promise<{ code: number | null; messages: SubMessage[]; stderr: string }>((resolve, reject) => {
    child.once('error', (e) => reject(new Error(`cannot start ${bin}: ${e.message} (install the Debian package mosquitto-clients)`)));
    child.once('exit', (code) => resolve({ code, messages: parse(), stderr: err }));
  });
  return {
    // only complete lines: the last one may still be arriving
    messages: () => parse().slice(0, out.endsWith('\n') ? undefined : -1),
    done,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await done;
    },
  };
}
