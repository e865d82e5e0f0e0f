import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface MosquittoOptions {
  /** fixed port; default a free loopback port */
  port?: number;
  /** appended to the generated config (e.g. `max_queued_messages 10`) */
  extraConfig?: string;
  /** default /usr/sbin/mosquitto or $MOSQUITTO_BIN */
  bin?: string;
}

export interface Mosquitto {
  url: string;
  port: number;
  /** the broker's output so far (for assertion messages) */
  log(): string;
  stop(): Promise<void>;
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
      return await startOnce(opts.port ?? (await freePort()), opts);
    } catch (e) {
      lastError = e;
      if (!(e instanceof PortTakenError)) throw e;
    }
  }
  throw lastError;
}

class PortTakenError extends Error {}

async function startOnce(port: number, opts: MosquittoOptions): Promise<Mosquitto> {
  const bin = opts.bin ?? process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
  const dir = await mkdtemp(path.join(tmpdir(), 'edgesight-mosquitto-'));
  const conf = path.join(dir, 'mosquitto.conf');
  await writeFile(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', opts.extraConfig ?? '', ''].join('\n'));

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
    first = await Promise.race([
      waitForPort(port, 10_000, () => dead).then(() => 'ready' as const),
      exited,
      spawnError,
    ]);
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
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    log: () => output,
    stop: cleanup,
  };
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
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
