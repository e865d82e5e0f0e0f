import { Collector, startDaemon, testEnv, writeConfig, type DaemonProc } from './daemon.js';
import { startMosquitto, type Mosquitto, type MosquittoOptions } from './mosquitto.js';

/** SIGKILL to a daemon's whole process group (it leads its own: spawnCollected starts it detached). */
function killGroup(d: DaemonProc): void {
  try {
    process.kill(-d.child.pid!, 'SIGKILL');
  } catch (e) {
    // ESRCH: nothing of the group is left
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/**
 * Ends a daemon child that is still running (SIGKILL: a test that wanted a clean stop has done it itself),
 * and whatever it started: a SIGKILLed daemon cannot stop its camera child, and a stalled camera never
 * writes again, so it would never learn that its reader is gone (systemd kills the unit's cgroup the same way).
 */
export async function killDaemon(d: DaemonProc | null | undefined): Promise<void> {
  if (!d) return;
  const running = d.child.exitCode === null && d.child.signalCode === null;
  killGroup(d);
  if (running) await d.exited;
}

export interface E2eOptions {
  /** what the collector subscribes to (default everything under edgesight/) */
  topics?: string[];
  mosquitto?: MosquittoOptions;
  /** kill the daemon after each test (default) or only after the whole suite */
  daemonPerTest?: boolean;
}

export interface E2e {
  /** the real mosquitto of this suite */
  readonly broker: Mosquitto;
  /** a real MQTT client subscribed to `topics` since before the daemon started */
  readonly sub: Collector;
  /** the daemon started last, or null */
  readonly daemon: DaemonProc | null;
  /** writes `yaml` to a config file and starts `edgesight run` on it; teardown ends it */
  start(yaml: string, env?: NodeJS.ProcessEnv): Promise<DaemonProc>;
  /** starts `edgesight run` on a config file already written (e.g. one the test rewrites for a reload) */
  run(configFile: string, env?: NodeJS.ProcessEnv): DaemonProc;
}

/**
 * The end-to-end suite's parts and their teardown, registered as mocha hooks of the calling `describe`:
 * mosquitto, a collector client, the daemon child process. Everything started is ended in reverse order.
 */
export function useE2e(opts: E2eOptions = {}): E2e {
  let broker: Mosquitto | undefined;
  let sub: Collector | undefined;
  let daemon: DaemonProc | null = null;
  // every daemon started, so one a test replaced without waiting for its exit is ended too
  const started: DaemonProc[] = [];
  const killAll = async (): Promise<void> => {
    for (const d of started.splice(0)) await killDaemon(d);
    daemon = null;
  };
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`the e2e ${what} is used before the suite's before() hook ran`);
    return v;
  };
  before(async () => {
    broker = await startMosquitto(opts.mosquitto);
    sub = await Collector.connect(broker.url, opts.topics ?? ['edgesight/#']);
  });
  if (opts.daemonPerTest ?? true) {
    afterEach(killAll);
  }
  after(async () => {
    await killAll();
    await sub?.close();
    await broker?.stop();
  });
  return {
    get broker() {
      return need(broker, 'broker');
    },
    get sub() {
      return need(sub, 'collector');
    },
    get daemon() {
      return daemon;
    },
    async start(yaml, env = testEnv()) {
      await killDaemon(daemon);
      daemon = startDaemon(await writeConfig(yaml), env);
      started.push(daemon);
      return daemon;
    },
    run(configFile, env = testEnv()) {
      daemon = startDaemon(configFile, env);
      started.push(daemon);
      return daemon;
    },
  };
}

export interface BaseConfigOptions {
  device: string;
  url: string;
  /** the files camera's path (an image, a folder or a video) */
  frames: string;
  fps?: number;
  loop?: boolean;
  segmentationEvery?: number;
  /** more entries of the `mqtt:` flow map, e.g. `qos: { detections: 1 }` */
  mqtt?: string;
  /** more top-level YAML (sections not set above) */
  extra?: string;
}

/** The config most end-to-end tests start from: a files camera, a fast MQTT reconnect, JSON logs. */
export function baseConfig(o: BaseConfigOptions): string {
  return `
device: { id: ${o.device} }
camera: { name: cam1, source: files, fps: ${o.fps ?? 4}, files: { path: ${o.frames}, loop: ${o.loop ?? true} } }
segmentation: { every: ${o.segmentationEvery ?? 0} }
mqtt: { url: ${o.url}, reconnect_max_s: 1${o.mqtt ? `, ${o.mqtt}` : ''} }
logging: { level: info, pretty: false }
${o.extra ?? ''}`;
}

export interface FilesCameraYamlOptions {
  device: string;
  /** the device's display name, when the test checks it */
  deviceName?: string;
  /** the files camera's path (an image, a folder or a video) */
  frames: string;
  fps?: number;
  loop?: boolean;
  segmentationEvery?: number;
}

/**
 * The `device:`, files `camera:` and `segmentation:` lines a hand-written end-to-end config opens with,
 * in block style so the test can go on with its own `mqtt:` and other sections.
 */
export function filesCameraYaml(o: FilesCameraYamlOptions): string {
  return `device: { id: ${o.device}${o.deviceName === undefined ? '' : `, name: ${o.deviceName}`} }
camera:
  name: cam1
  source: files
  fps: ${o.fps ?? 4}
  files: { path: ${o.frames}, loop: ${o.loop ?? true} }
segmentation: { every: ${o.segmentationEvery ?? 0} }`;
}

/**
 * A real mosquitto for the calling `describe`, for suites that start their daemons themselves (their own
 * environment, a wrapping shell): started before the suite, stopped after it; the daemon `current` returns
 * is killed after each test.
 */
export function useBroker(current: () => DaemonProc | null, mosquitto?: MosquittoOptions): { readonly broker: Mosquitto } {
  let broker: Mosquitto | undefined;
  before(async () => {
    broker = await startMosquitto(mosquitto);
  });
  afterEach(async () => killDaemon(current()));
  after(async () => broker?.stop());
  return {
    get broker() {
      if (broker === undefined) throw new Error("the broker is used before the suite's before() hook ran");
      return broker;
    },
  };
}
