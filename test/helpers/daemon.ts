import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');
export const CLI = path.join(REPO, 'dist', 'src', 'cli', 'main.js');

/** One model cache for the whole test run, filled from the package's own model sources on first use. */
export const TEST_CACHE = process.env.EDGESIGHT_TEST_CACHE ?? path.join(tmpdir(), 'edgesight-test-cache');

export function testEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, EDGESIGHT__MODELS__CACHE_DIR: TEST_CACHE, EDGESIGHT_OFFLINE: '1' };
  for (const k of Object.keys(env)) if (k.startsWith('EDGESIGHT__') && k !== 'EDGESIGHT__MODELS__CACHE_DIR') delete env[k];
  return { ...env, ...extra };
}

export async function writeConfig(yaml: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'edgesight-cfg-'));
  const file = path.join(dir, 'config.yaml');
  await writeFile(file, yaml);
  return file;
}

export interface DaemonProc {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startDaemon(configFile: string, env: NodeJS.ProcessEnv = testEnv()): DaemonProc {
  return spawnCollected(process.execPath, [CLI, 'run', '--config', configFile], env);
}

/** Starts any command with stdout and stderr collected together, watched like a daemon (e.g. a shell that runs it). */
export function spawnCollected(command: string, args: string[], env: NodeJS.ProcessEnv): DaemonProc {
  // its own process group, so a test's teardown can end the daemon together with its camera children
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}

/** Ends a child that is still running with `signal` and waits for its exit. */
export async function stopChild(child: ChildProcess | null, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

/** Collects messages on a real MQTT client; `waitFor` resolves with the first match. */
export class Collector {
  readonly messages: Array<{ topic: string; payload: Buffer; retain: boolean }> = [];
  private waiters: Array<{ pred: (t: string, p: Buffer) => boolean; resolve: (m: { topic: string; payload: Buffer }) => void }> = [];
  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, retain: packet.retain });
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(topic, payload)) return true;
        w.resolve({ topic, payload });
        return false;
      });
    });
  }

  static async connect(url: string, topics: string[]): Promise<Collector> {
    const client = mqtt.connect(url, { clientId: `test_${process.pid}_${Math.random().toString(16).slice(2)}`, reconnectPeriod: 200 });
    const c = new Collector(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(topics, { qos: 1 });
    return c;
  }

  waitFor(pred: (topic: string, payload: Buffer) => boolean, timeoutMs: number, what: string): Promise<{ topic: string; payload: Buffer }> {
    const hit = this.messages.find((m) => pred(m.topic, m.payload));
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () =>
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${what}; got ${this.messages.length} messages on ${[...new Set(this.messages.map((m) => m.topic))].join(', ')}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push({ pred, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
