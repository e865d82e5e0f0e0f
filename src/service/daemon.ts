import path from 'node:path';
import { readFileSync, statSync } from 'node:fs';
import { Subject, type Subscription } from 'rxjs';
import type { Logger } from '../logging/logger.js';
import type { Config, LoadedConfig } from '../config/types.js';
import { redactConfig, redactUrlCredentials } from '../config/redact.js';
import { createFrameSource, waitForCameraChildren } from '../capture/source.js';
import type { CameraConfig } from '../capture/config.js';
import type { SourceEvent } from '../capture/frame.js';
import type { InferenceEngine, EngineEvent } from '../inference/engine.js';
import { createEngine } from './configured-engine.js';
import { runPipeline, type FrameResult, type PipelineEvent } from '../pipeline/pipeline.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../mqtt/broker.js';
import { MqttPublisher, type ClientEvent } from '../mqtt/client.js';
import { topicsFor, type CameraTopics } from '../mqtt/topics.js';
import { TopicSequence } from '../publish/topic-sequence.js';
import { Metrics } from '../metrics/registry.js';
import { startReporting, type Reporting } from '../metrics/reporting.js';
import { describeMqttError, tlsMaterialProblems } from '../mqtt/errors.js';
import { HomeAssistantDiscovery, homeAssistantConfigProblems } from '../homeassistant/discovery.js';
import { ConfigError, type ConfigProblem } from '../config/errors.js';
import type { LoadedModel } from '../models/store.js';
import { loadConfiguredModels } from './configured-models.js';
import { ResultPublisher, lineStateFile } from '../publish/result-publisher.js';
import { ServiceHealth } from './health.js';
import { planReload } from './reload.js';
import { VERSION } from './version.js';
import { HTTP_TOKEN_ENV } from '../config/cross-checks.js';
import { LiveFeed } from '../live/live-feed.js';
import { imageForViewer, PrivacyWithheldError } from '../live/viewer-image.js';
import { LatencyHistory } from '../live/latency-history.js';
import { buildStatus } from '../live/status.js';
import { startHttpServer } from '../live/server.js';
import { MIN_TOKEN_LENGTH } from '../live/http-guard.js';

/**
 * The daemon: wires capture → pipeline → MQTT and owns the start/stop order (zigbee2mqtt's controller).
 * The pipeline knows nothing about MQTT; this subscribes the publisher to its results. One teardown path:
 * `stop$`. Start order: config (done by the caller) → embedded broker (when used: a taken port fails in
 * milliseconds, before the model load) → models → MQTT client → inference worker → metrics →
 * capture+pipeline → READY. Stop order is the reverse.
 */
export class Daemon {
  private readonly stop$ = new Subject<void>();
  private sub: Subscription | null = null;
  private engine: InferenceEngine | null = null;
  private publisher: MqttPublisher | null = null;
  private broker: EmbeddedBroker | null = null;
  private reporting: Reporting | null = null;
  private outputs: ResultPublisher | null = null;
  /** Home Assistant discovery (issue 8); null when mqtt.homeassistant.enabled is false */
  private ha: HomeAssistantDiscovery | null = null;
  private topics!: CameraTopics;
  /** the live view's latest frame and viewers; null when metrics.http is off */
  private live: LiveFeed | null = null;
  private latencyHistory: LatencyHistory | null = null;
  private models!: { detector: LoadedModel; segmenter: LoadedModel | null };
  readonly metrics: Metrics;
  readonly health: ServiceHealth;
  private stopping: Promise<{ stuckThreads: number }> | null = null;
  /** per-frame failures repeat on every frame: log the first, then a summary at most every 10 s */
  private readonly frameErrorLog = new Map<string, { last: number; suppressed: number }>();

  constructor(
    private lc: LoadedConfig,
    private readonly log: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.metrics = new Metrics({ device: lc.config.device.id, windowS: lc.config.metrics.window_s });
    this.health = new ServiceHealth(log, env);
  }

  get config(): Config {
    return this.lc.config;
  }

  async start(): Promise<void> {
    const cfg = this.config;
    this.health.readiness.mark('config');
    this.topics = topicsFor(cfg.mqtt.base_topic, cfg.device.id, cfg.camera.name);
    this.warnIfConfigReadable();
    // the embedded broker's port first: a taken port is found in milliseconds, not after the model load
    if (!cfg.mqtt.url) this.broker = await startEmbeddedBroker(cfg.mqtt.embedded_broker.host, cfg.mqtt.embedded_broker.port);
    // before the slow model preparation: a bad token is a config error, reported at once
    const token = cfg.metrics.http.enabled ? this.readHttpToken() : null;

    this.models = await loadConfiguredModels(this.lc, this.log);
    const { detector, segmenter } = this.models;
    this.log.info({ detector: detector.manifestPath, segmenter: segmenter?.manifestPath ?? null, precision: detector.manifest.precision }, 'models loaded');

    const { engine, core } = createEngine({ detector, segmenter }, cfg);
    this.engine = engine;
    this.engine.on('event', (ev: EngineEvent) => this.onEngineEvent(ev));
    const affinity = await this.engine.start();
    if (affinity.error) throw new Error(`could not pin the inference thread to core ${core}: ${affinity.error}`);
    this.log.info({ core, tid: affinity.tid, cpus_allowed_list: affinity.allowed }, `inference thread ${affinity.tid} pinned to core ${affinity.allowed}`);
    this.health.readiness.mark('models');

    await this.startMqtt();
    this.outputs = new ResultPublisher(cfg, this.topics, this.publisher!, this.log, {
      segmenterClasses: segmenter?.manifest.labels ?? null,
      stateFile: lineStateFile(cfg, this.lc.dir, this.env),
      onEvents: this.countEvents,
      onWithheld: () => this.metrics.inc('images_withheld'),
    });

    const http = cfg.metrics.http;
    if (http.enabled) {
      this.live = new LiveFeed({
        fps: http.live_fps,
        maxViewers: http.max_viewers,
        // privacy applies to every image that leaves the device, the live view's too
        encode: (r) => {
          const src = this.outputs!.privacySources(r);
          return imageForViewer(r, 75, { options: this.config.privacy, sources: { at: r.capturedAt, mask: src.mask, boxes: src.privacyBoxes } });
        },
        onError: (e) => {
          // privacy could not obscure the frame: the viewers keep the previous image; counted, logged at most every 10 s
          if (e instanceof PrivacyWithheldError) {
            this.metrics.inc('images_withheld');
            this.logFrameProblem('live-withheld', (n) => this.log.warn({ err: e.message, ...(n ? { similar_since_last: n } : {}) }, 'live view: frame withheld'));
            return;
          }
          this.log.warn({ err: e.message }, 'live view: encoding a frame failed');
        },
      });
      this.latencyHistory = new LatencyHistory(this.metrics);
      this.latencyHistory.start();
    }
    this.reporting = await startReporting({
      metrics: this.metrics,
      config: cfg.metrics,
      publishStats: (p) => this.publishJson(this.topics.stats, p, { cls: 'latest', qos: 'stream' }),
      logger: this.log,
      startHttp: (registry) => startHttpServer({ port: http.port, bind: http.bind, token, registry, feed: this.live!, status: () => this.liveStatus() }),
    });
    if (this.live && this.reporting.httpPort !== undefined) {
      const host = http.bind.includes(':') ? `[${http.bind}]` : http.bind === '0.0.0.0' || http.bind === '::' ? '127.0.0.1' : http.bind;
      const url = `http://${host}:${this.reporting.httpPort}/`;
      this.log.info({ url, auth: token ? 'token' : 'loopback only' }, `live view on ${url}`);
    }
    this.ha?.setMetricsHttpPort(this.reporting.httpPort); // HA device page links to /metrics

    const frames$ = createFrameSource(this.cameraConfig(), { onEvent: (ev) => this.onSourceEvent(ev), log: this.log });
    this.sub = runPipeline(frames$, { engine: this.engine, detector, segmenter, config: () => this.config, onEvent: (ev) => this.onPipelineEvent(ev) }, this.stop$).subscribe({
      next: (r) => void this.onResult(r),
      error: (e: Error) => {
        this.log.error({ err: e.message }, 'frame source failed');
        this.metrics.noteError(`frame source failed: ${e.message}`);
        this.health.setState('degraded', e.message);
      },
      complete: () => this.log.info('frame source ended'),
    });
    this.health.readiness.mark('pipeline');
    if (this.health.state === 'starting') this.health.setState('running');
    this.health.start(this.metrics, this.engine);
    this.log.info({ camera: cfg.camera.name, source: cfg.camera.source, topics: this.topics.root, version: VERSION }, 'edgesight running');
  }

  /** The HTTP token: EDGESIGHT_HTTP_TOKEN, else metrics.http.token_file; null when neither is set (loopback only, checked by the loader). */
  private readHttpToken(): string | null {
    const http = this.config.metrics.http;
    const problem = (message: string): ConfigError => {
      const err = new ConfigError(this.lc.file, [{ path: 'metrics.http.token_file', message }]);
      err.message = err.format();
      return err;
    };
    let token: string | undefined = this.env[HTTP_TOKEN_ENV];
    let from = HTTP_TOKEN_ENV;
    if (token === undefined && http.token_file) {
      const file = path.resolve(this.lc.dir, http.token_file);
      from = file;
      try {
        token = readFileSync(file, 'utf8').trim();
      } catch (e) {
        throw problem(`${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
      try {
        const mode = statSync(file).mode;
        if (mode & 0o004) this.log.warn({ file, mode: (mode & 0o777).toString(8) }, 'metrics.http.token_file is readable by every user: chmod 600 it (or 640 with the service group)');
      } catch {
        // read a moment ago
      }
    }
    if (token === undefined) return null;
    token = token.trim();
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
      throw problem(`the token from ${from} must be at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 24)`);
    }
    return token;
  }

  private liveStatus(): ReturnType<typeof buildStatus> {
    const { detector, segmenter } = this.models;
    return buildStatus({
      version: VERSION,
      config: () => this.config,
      metrics: this.metrics,
      feed: this.live!,
      history: this.latencyHistory!,
      state: () => ({ state: this.health.state, detail: this.health.detail ?? null }),
      models: () => ({
        detector: { name: detector.manifest.name, precision: detector.manifest.precision },
        segmenter: segmenter ? { name: segmenter.manifest.name, precision: segmenter.manifest.precision, classes: segmenter.manifest.labels } : null,
      }),
      inferenceCores: () => this.engine?.affinity?.allowed ?? null,
      counts: () => Object.fromEntries(this.outputs?.labelCounts() ?? []),
    });
  }

  private cameraConfig(): CameraConfig {
    const c = this.config.camera;
    const files = { ...c.files, ...(c.files.path ? { path: path.resolve(this.lc.dir, c.files.path) } : {}) };
    return { ...c, files };
  }

  private warnIfConfigReadable(): void {
    const m = this.config.mqtt;
    const worldReadable = (file: string): string | null => {
      try {
        const mode = statSync(file).mode;
        return mode & 0o004 ? (mode & 0o777).toString(8) : null;
      } catch {
        return null; // read a moment ago (config) or reported when read (password_file)
      }
    };
    // a password from EDGESIGHT__MQTT__PASSWORD is not in the file
    if (this.lc.file && m.password && this.env.EDGESIGHT__MQTT__PASSWORD === undefined) {
      const mode = worldReadable(this.lc.file);
      if (mode) this.log.warn({ file: this.lc.file, mode }, 'the config file holds mqtt.password and is readable by every user: chmod 640 it, or use mqtt.password_file');
    }
    if (m.password_file) {
      const file = path.resolve(this.lc.dir, m.password_file);
      const mode = worldReadable(file);
      if (mode) this.log.warn({ file, mode }, 'mqtt.password_file is readable by every user: chmod 600 it (or 640 with the service group)');
    }
  }

  private readPassword(): string | undefined {
    const m = this.config.mqtt;
    if (m.password_file) {
      const file = path.resolve(this.lc.dir, m.password_file);
      try {
        return readFileSync(file, 'utf8').trim();
      } catch (e) {
        throw new Error(`mqtt.password_file ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
    }
    return m.password ?? undefined;
  }

  private readPem(key: 'ca' | 'cert' | 'key'): Buffer | undefined {
    const f = this.config.mqtt[key];
    if (!f) return undefined;
    const file = path.resolve(this.lc.dir, f);
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`mqtt.${key} ${file} cannot be read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }

  private async startMqtt(): Promise<void> {
    const m = this.config.mqtt;
    let url = m.url;
    if (!url && this.broker) {
      url = this.broker.url;
      this.log.warn({ url }, `mqtt.url is not set: started an EMBEDDED broker on ${url} (demo mode; point mqtt.url at your broker for real use)`);
    }
    if (!url) throw new Error('no MQTT broker: mqtt.url is null and the embedded broker did not start');
    const tlsWanted = Boolean(m.ca || m.cert || m.key || /^(mqtts|wss|ssl):/.test(url));
    // --- issue 8: config checks JSON Schema cannot express, then Home Assistant discovery ---
    const tls = tlsWanted ? { ca: this.readPem('ca'), cert: this.readPem('cert'), key: this.readPem('key'), rejectUnauthorized: m.reject_unauthorized } : undefined;
    const at = (k: 'ca' | 'cert' | 'key'): string | undefined => (m[k] ? path.resolve(this.lc.dir, m[k]!) : undefined);
    const problems: ConfigProblem[] = [...homeAssistantConfigProblems(this.config), ...(tls ? tlsMaterialProblems(tls, { ca: at('ca'), cert: at('cert'), key: at('key') }) : [])];
    if (problems.length) {
      const err = new ConfigError(this.lc.file, problems);
      err.message = err.format(); // run.ts logs the message: name every problem, not just their count
      throw err;
    }
    const password = this.readPassword();
    this.connPassword = password;
    if (m.homeassistant.enabled) {
      // the publisher is created below; HA only publishes from onConnect/messages, after that
      this.ha = new HomeAssistantDiscovery({ config: () => this.config, topics: this.topics, publisher: { publish: (t, p, o) => this.publisher?.publish(t, p, o) }, log: this.log, version: VERSION });
    }
    // --- end issue 8 ---
    this.publisher = new MqttPublisher({
      url,
      clientId: m.client_id ?? `edgesight_${this.config.device.id}`,
      username: m.username ?? undefined,
      password,
      keepaliveS: m.keepalive_s,
      protocolVersion: this.broker ? 4 : m.protocol_version,
      reconnectMaxS: m.reconnect_max_s,
      qos: m.qos,
      queueSize: m.queue_size,
      will: { topic: this.topics.availability, payload: 'offline' },
      tls,
      onConnect: () => this.publishState(),
      subscriptions: [this.topics.snapshotGet, ...(this.ha?.subscriptions() ?? [])],
    });
    this.mqttUrl = url;
    let up = false; // "connection lost" only after a connection: a failing connect is already logged once as an error
    this.publisher.on('event', (ev: ClientEvent) => {
      switch (ev.type) {
        case 'connected':
          this.mqttLastError = '';
          up = true;
          this.log.info({ url: redactUrlCredentials(this.mqttUrl), reconnect: ev.reconnect }, 'connected to MQTT broker');
          if (ev.reconnect) this.metrics.inc('mqtt_reconnects');
          return;
        case 'disconnected':
          if (!this.stopping && up) this.log.warn({ url: redactUrlCredentials(this.mqttUrl) }, 'MQTT connection lost; retrying with backoff');
          up = false;
          return;
        case 'error': {
          const mc = this.config.mqtt;
          const text = describeMqttError(ev.message, ev.code, this.mqttUrl, { username: mc.username, hasPassword: this.connPassword !== undefined, hasClientCert: Boolean(mc.cert) });
          // the same failure repeats on every retry: log it once until something changes
          if (text !== this.mqttLastError) this.log.error({ url: redactUrlCredentials(this.mqttUrl), err: ev.message }, text);
          if (text !== this.mqttLastError) this.metrics.noteError(text);
          this.mqttLastError = text;
          return;
        }
        case 'drop':
          if (ev.cls !== 'backpressure') this.metrics.inc('mqtt_queue_drops');
          this.metrics.inc(DROP_COUNTERS[ev.cls]);
          return;
        case 'message':
          this.onCommand(ev.topic, ev.payload);
          return;
      }
    });
  }

  /**
   * Everything the daemon subscribes to arrives here from the network, so nothing in a payload is
   * trusted: the size is checked before anything else, and each kind of request costs a bounded amount
   * of work however fast it comes (snapshots: mqtt.snapshot.max_rate_hz and one render at a time;
   * Home Assistant's "online": one republish per HA_REPUBLISH_MS, a flood coalesced into one).
   */
  private onCommand(topic: string, payload: Buffer): void {
    const isSnapshot = topic === this.topics.snapshotGet;
    const isHaStatus = this.ha !== null && topic === this.ha.statusTopic;
    if (!isSnapshot && !isHaStatus) {
      // retained discovery configs read back to remove stale entities: bounded (one publish at most)
      this.ha?.onMessage(topic, payload);
      return;
    }
    this.metrics.inc('commands_received');
    const limit = isSnapshot ? MAX_SNAPSHOT_GET_BYTES : MAX_HA_STATUS_BYTES;
    if (payload.length > limit) {
      this.metrics.inc('commands_rejected');
      this.logFrameProblem(`command:${topic}`, (n) => this.log.warn({ topic, bytes: payload.length, limit, ...(n ? { similar_since_last: n } : {}) }, `ignored an oversized message on ${topic} (${payload.length} bytes, at most ${limit})`));
      return;
    }
    if (isSnapshot) {
      const refusedBefore = this.outputs?.snapshotsRefused ?? 0;
      const p = this.outputs?.onSnapshotRequest();
      if ((this.outputs?.snapshotsRefused ?? 0) > refusedBefore) this.metrics.inc('commands_rate_limited');
      void p?.catch((e: Error) => this.log.error({ err: e.message }, 'snapshot failed'));
      return;
    }
    const status = payload.toString('utf8').trim();
    if (status !== 'online' && status !== 'offline') {
      this.metrics.inc('commands_rejected');
      this.logFrameProblem(`command:${topic}`, (n) => this.log.warn({ topic, ...(n ? { similar_since_last: n } : {}) }, `ignored a message on ${topic} that is neither "online" nor "offline"`));
      return;
    }
    if (status === 'offline') return;
    const now = Date.now();
    if (now - this.haRepublishedAt >= HA_REPUBLISH_MS) {
      this.haRepublishedAt = now;
      this.ha!.onMessage(topic, payload);
      return;
    }
    this.metrics.inc('commands_rate_limited');
    this.haRepublishTimer ??= setTimeout(() => {
      this.haRepublishTimer = null;
      if (this.stopping) return;
      this.haRepublishedAt = Date.now();
      this.ha?.onMessage(topic, Buffer.from('online'));
    }, HA_REPUBLISH_MS - (now - this.haRepublishedAt));
    this.haRepublishTimer.unref();
  }

  private haRepublishedAt = -Infinity;
  private haRepublishTimer: NodeJS.Timeout | null = null;

  private mqttUrl = '';
  private mqttLastError = '';
  /** the password the client connects with now (from mqtt.password or mqtt.password_file) */
  private connPassword: string | undefined;

  /**
   * The connection settings of `cfg` (password file and certificates read again), or null when they equal
   * the running ones. Throws, naming the file, when one cannot be read: the reload is then refused whole.
   */
  private connectionChange(forced: boolean): Parameters<MqttPublisher['reconfigure']>[0] | null {
    if (this.broker || !this.publisher) return null;
    const m = this.config.mqtt;
    const url = m.url!;
    const password = this.readPassword();
    if (!forced && password === this.connPassword) return null;
    const tlsWanted = Boolean(m.ca || m.cert || m.key || /^(mqtts|wss|ssl):/.test(url));
    const tls = tlsWanted ? { ca: this.readPem('ca'), cert: this.readPem('cert'), key: this.readPem('key'), rejectUnauthorized: m.reject_unauthorized } : undefined;
    this.connPassword = password;
    return {
      url,
      clientId: m.client_id ?? `edgesight_${this.config.device.id}`,
      username: m.username ?? undefined,
      password,
      keepaliveS: m.keepalive_s,
      protocolVersion: m.protocol_version,
      reconnectMaxS: m.reconnect_max_s,
      tls,
    };
  }

  private publishState(): void {
    const p = this.publisher!;
    p.publish(this.topics.availability, 'online', { retain: true, cls: 'latest' });
    const { detector, segmenter } = this.models;
    const c = this.config;
    const info = {
      v: 2,
      version: VERSION,
      device: c.device.id,
      device_name: c.device.name ?? c.device.id,
      base_topic: c.mqtt.base_topic,
      started_at: this.startedAt,
      arch: process.arch,
      cameras: [{ name: c.camera.name, source: c.camera.source, width: c.camera.width, height: c.camera.height, fps: c.camera.fps }],
      models: {
        detector: { name: detector.manifest.name, precision: detector.manifest.precision, sha256: detector.manifest.sha256, labels_tracked: c.objects.track },
        segmenter: segmenter ? { name: segmenter.manifest.name, precision: segmenter.manifest.precision, sha256: segmenter.manifest.sha256, classes: segmenter.manifest.labels } : null,
      },
      inference: { cpus_allowed_list: this.engine?.affinity?.allowed ?? null, threads: c.inference.threads },
      config: redactConfig(c),
    };
    this.publishJson(this.topics.info, info, { retain: true, cls: 'latest' });
    this.outputs?.publishState();
    this.ha?.publishAll(); // on every connect and after SIGHUP (objects.track may have changed)
  }

  private readonly startedAt = Date.now();
  /** `seq` per topic for the JSON payloads published outside the result path (info, stats) */
  private readonly seq = new TopicSequence();

  private publishJson(topic: string, payload: { v: number }, opts: Parameters<MqttPublisher['publish']>[2]): void {
    this.publisher?.publish(topic, JSON.stringify(this.seq.stamp(topic, payload)), opts);
  }

  private readonly countEvents = (n: number): void => this.metrics.inc('events_published', n);

  private async onResult(r: FrameResult): Promise<void> {
    this.live?.push(r);
    try {
      await this.outputs!.onResult(r);
    } catch (e) {
      this.log.error({ err: (e as Error).message, frame_id: r.frameId }, 'publishing a result failed');
      this.metrics.noteError(`publishing a result failed: ${(e as Error).message}`);
    }
    this.metrics.recordFrame(r.timings);
  }

  private onPipelineEvent(ev: PipelineEvent): void {
    switch (ev.type) {
      case 'captured':
        this.metrics.inc('frames_captured');
        return;
      case 'skipped':
        this.metrics.inc('frames_skipped');
        return;
      case 'corrupt':
        this.metrics.inc('frames_corrupt');
        this.logFrameProblem('corrupt', () => this.log.warn({ reason: ev.reason }, 'corrupt frame skipped'));
        this.metrics.noteError(`corrupt frame: ${ev.reason}`);
        return;
      case 'inference-error':
        if (this.stopping) return;
        this.metrics.inc('inference_errors');
        this.metrics.noteError(`inference failed: ${ev.reason}`);
        this.logFrameProblem('inference', (n) => this.log.error({ reason: ev.reason, ...(n ? { similar_since_last: n } : {}) }, 'inference failed for a frame'));
        return;
    }
  }

  private logFrameProblem(kind: string, log: (suppressed: number) => void): void {
    const now = Date.now();
    const st = this.frameErrorLog.get(kind);
    if (st && now - st.last < 10_000) {
      st.suppressed++;
      return;
    }
    log(st?.suppressed ?? 0);
    this.frameErrorLog.set(kind, { last: now, suppressed: 0 });
  }

  private onSourceEvent(ev: SourceEvent): void {
    switch (ev.type) {
      case 'restart':
        this.metrics.inc('camera_restarts');
        this.metrics.noteError(`camera restart: ${ev.reason}`);
        this.log.warn({ reason: ev.reason, attempt: ev.attempt, delay_ms: ev.delayMs }, 'camera restart');
        return;
      case 'stall':
        this.metrics.inc('camera_stalls');
        this.metrics.noteError(`camera stalled: no frame for ${ev.afterMs} ms`);
        this.log.warn({ after_ms: ev.afterMs }, 'camera stalled');
        return;
      case 'corrupt':
        // a frame the camera delivered but nobody can use: captured and corrupt, so the counts reconcile
        this.metrics.inc('frames_captured');
        this.metrics.inc('frames_corrupt');
        this.logFrameProblem('camera-corrupt', (n) => this.log.warn({ reason: ev.reason, ...(n ? { similar_since_last: n } : {}) }, 'corrupt frame from camera'));
        return;
      case 'missing':
        this.health.setState('degraded', 'camera not found, retrying');
        return;
      case 'started':
        if (this.health.state === 'degraded') this.health.setState('running');
        this.log.info({ detail: ev.detail }, 'camera started');
        return;
      case 'stderr':
        this.log.debug({ line: ev.line }, 'camera stderr');
        return;
    }
  }

  private onEngineEvent(ev: EngineEvent): void {
    switch (ev.type) {
      case 'restart':
        this.metrics.inc('worker_restarts');
        this.metrics.noteError(`inference worker restarting: ${ev.reason}`);
        this.log.error({ attempt: ev.attempt, delay_ms: ev.delayMs, reason: ev.reason }, 'inference worker restarting');
        return;
      case 'stall':
        this.log.error({ after_ms: ev.afterMs }, 'inference stalled: restarting the worker');
        return;
      case 'crash':
        this.log.error({ reason: ev.message }, 'inference worker crashed');
        return;
      case 'ready':
        if (ev.restart > 0) this.log.info({ restart: ev.restart, cpus_allowed_list: ev.affinity.allowed }, 'inference worker back');
        return;
      case 'run-error':
        return;
    }
  }

  /**
   * SIGHUP: re-read the config. What can change live (thresholds, tracked labels, rates, masks, events,
   * segmentation cadence, log level) applies at once; what needs a restart is listed; an invalid file
   * changes nothing (every problem is logged).
   */
  reload(next: LoadedConfig): { applied: string[]; needsRestart: string[]; reconnected: boolean } {
    const plan = planReload(this.config, next.config, { segmenterLoaded: this.models.segmenter !== null });
    const previous = this.lc;
    this.lc = { ...next, config: plan.merged };
    // a rotated secret may live only in mqtt.password_file: re-read it on every reload
    let conn: ReturnType<Daemon['connectionChange']>;
    try {
      conn = this.connectionChange(plan.reconnect.length > 0);
    } catch (e) {
      this.lc = previous;
      throw e;
    }
    if (conn) {
      this.log.info({ url: redactUrlCredentials(conn.url), changed: plan.reconnect.length ? plan.reconnect : ['mqtt.password_file (contents)'] }, 'MQTT connection settings changed: reconnecting with the new ones');
      this.mqttUrl = conn.url;
      this.mqttLastError = '';
      this.publisher!.reconfigure(conn);
    }
    // the same publisher takes the new config: tracks, counts and line totals carry on (no 1 → 0 → 1, no second `new`)
    this.outputs?.applyConfig(plan.merged);
    this.log.level = plan.merged.logging.level;
    this.publishState();
    return { applied: plan.applied, needsRestart: plan.needsRestart, reconnected: conn !== null };
  }

  /** Stop capture, abandon the in-flight frame, publish `offline`, flush MQTT — within `timeoutMs`. */
  /** Resolves with the number of inference threads still stuck inside ONNX Runtime (the caller must exit hard). */
  stop(timeoutMs = 4000): Promise<{ stuckThreads: number }> {
    this.stopping ??= this.doStop(timeoutMs);
    return this.stopping;
  }

  private async doStop(timeoutMs: number): Promise<{ stuckThreads: number }> {
    const deadline = Date.now() + timeoutMs;
    this.health.setState('stopping');
    this.health.stop();
    this.latencyHistory?.stop();
    this.live?.stop();
    if (this.haRepublishTimer) clearTimeout(this.haRepublishTimer);
    this.stop$.next();
    this.stop$.complete();
    this.sub?.unsubscribe();
    this.outputs?.finish();
    const stuck = (await this.engine?.stop(Math.min(1500, timeoutMs / 2)))?.stuckThreads ?? [];
    const stuckThreads = stuck.length;
    if (stuckThreads) this.log.error({ stuck_threads: stuck }, 'an inference run is stuck inside ONNX Runtime and cannot be interrupted');
    await Promise.race([waitForCameraChildren(), sleep(Math.max(0, deadline - Date.now() - 1500))]);
    await this.reporting?.stop();
    await this.publisher?.close({ topic: this.topics.availability, payload: 'offline' }, Math.max(200, Math.min(1500, deadline - Date.now())));
    await this.broker?.close();
    return { stuckThreads };
  }
}

/** a snapshot request's payload is ignored: anything longer than this is not a request but abuse */
const MAX_SNAPSHOT_GET_BYTES = 1024;
/** Home Assistant's birth/last-will messages are "online"/"offline" */
const MAX_HA_STATUS_BYTES = 64;
/** Home Assistant restarting announces itself once; a flood of "online" republishes discovery at most this often */
const HA_REPUBLISH_MS = 5000;

const DROP_COUNTERS = {
  stream: 'mqtt_dropped_stream',
  event: 'mqtt_dropped_event',
  latest: 'mqtt_dropped_latest',
  none: 'mqtt_dropped_offline',
  backpressure: 'mqtt_dropped_backpressure',
} as const;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
