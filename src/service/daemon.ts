import type { Logger } from '../logging/logger.js';
import type { Config, LoadedConfig } from '../config/types.js';
import type { InferenceEngine } from '../inference/engine.js';
import type { FrameResult } from '../pipeline/pipeline.js';
import type { MqttPublisher } from '../mqtt/client.js';
import { topicsFor, type CameraTopics } from '../mqtt/topics.js';
import { TopicSequence } from '../publish/topic-sequence.js';
import { Metrics } from '../metrics/registry.js';
import { createEngine } from './configured-engine.js';
import { loadConfiguredModels } from './configured-models.js';
import { ServiceHealth } from './health.js';
import { planReload } from './reload.js';
import { VERSION } from './version.js';
import { ComponentRunner, type Component } from './component.js';
import { EventRouter } from './event-table.js';
import { readHttpToken, warnIfSecretsReadable } from './http-token.js';
import { EmbeddedBrokerComponent, EngineComponent, ModelsComponent, type ConfiguredModels } from './inference-components.js';
import { MqttComponent } from './mqtt-component.js';
import { HomeAssistantComponent, OutputsComponent } from './publishing-components.js';
import { CommandHandler } from './commands.js';
import { ReportingComponent } from './reporting-component.js';
import { CaptureComponent, defaultFrameSource, type FrameSourceFactory } from './capture-component.js';
import { infoPayload } from './info-payload.js';

/** What the daemon is built from; tests replace the parts they have no hardware for. */
export interface DaemonParts {
  loadModels: (lc: LoadedConfig, log: Logger) => Promise<ConfiguredModels>;
  createEngine: (models: ConfiguredModels, cfg: Config) => { engine: InferenceEngine; core: number };
  frames: FrameSourceFactory;
}

const REAL_PARTS: DaemonParts = { loadModels: loadConfiguredModels, createEngine: (m, cfg) => createEngine(m, cfg), frames: defaultFrameSource };

/**
 * The daemon: wiring only. Its components start in this order and stop in reverse: embedded broker (a
 * taken port fails in milliseconds, before the model load) → HTTP token check → models → inference engine
 * → Home Assistant → MQTT connection → result publisher → commands → metrics/HTTP → capture+pipeline →
 * READY. Every event goes through one table (event-table.ts); SIGHUP goes through the reload plan read
 * from the schema and each component's applyConfig.
 */
export class Daemon {
  readonly metrics: Metrics;
  readonly health: ServiceHealth;
  private readonly topics: CameraTopics;
  private readonly events: EventRouter;
  private readonly runner: ComponentRunner;
  private readonly broker: EmbeddedBrokerComponent;
  private readonly modelsPart: ModelsComponent;
  private readonly enginePart: EngineComponent;
  private readonly haPart: HomeAssistantComponent;
  private readonly mqtt: MqttComponent;
  private readonly outputsPart: OutputsComponent;
  private readonly commands: CommandHandler;
  private readonly reporting: ReportingComponent;
  private token: string | null = null;
  private stopping: Promise<{ stuckThreads: number }> | null = null;
  private readonly startedAt = Date.now();
  /** `seq` per topic for the JSON payloads published outside the result path (info, stats) */
  private readonly seq = new TopicSequence();

  constructor(
    private lc: LoadedConfig,
    private readonly log: Logger,
    private readonly env: NodeJS.ProcessEnv = process.env,
    parts: Partial<DaemonParts> = {},
  ) {
    const p = { ...REAL_PARTS, ...parts };
    const cfg = lc.config;
    this.metrics = new Metrics({ device: cfg.device.id, windowS: cfg.metrics.window_s });
    this.health = new ServiceHealth(log, env);
    this.topics = topicsFor(cfg.mqtt.base_topic, cfg.device.id, cfg.camera.name);
    this.events = new EventRouter({
      log,
      inc: (c) => this.metrics.inc(c),
      noteError: (t) => this.metrics.noteError(t),
      state: () => this.health.state,
      setState: (s, d) => this.health.setState(s, d),
      stopping: () => this.stopping !== null,
    });
    const getLc = (): LoadedConfig => this.lc;
    const config = (): Config => this.lc.config;
    const models = (): ConfiguredModels => this.modelsPart.models;
    this.broker = new EmbeddedBrokerComponent(config);
    this.modelsPart = new ModelsComponent(getLc, log, p.loadModels);
    this.enginePart = new EngineComponent({
      config,
      models,
      log,
      create: p.createEngine,
      events: (ev) => this.events.route({ origin: 'engine', ...ev }),
    });
    this.haPart = new HomeAssistantComponent({ lc: getLc, topics: this.topics, log, publisher: () => this.mqtt.publisher });
    this.mqtt = new MqttComponent({
      lc: getLc,
      topics: this.topics,
      log,
      embeddedUrl: () => this.broker.broker?.url ?? null,
      subscriptions: () => this.haPart.ha?.subscriptions() ?? [],
      onConnect: () => this.publishState(),
      onMessage: (t, payload) => this.commands.onMessage(t, payload),
      events: (ev) => this.events.route(ev),
      stopping: () => this.stopping !== null,
    });
    this.outputsPart = new OutputsComponent({
      lc: getLc,
      topics: this.topics,
      log,
      env,
      publisher: () => this.mqtt.publisher!,
      segmenterClasses: () => models().segmenter?.manifest.labels ?? null,
      onEvents: (n) => this.metrics.inc('events_published', n),
      onWithheld: () => this.metrics.inc('images_withheld'),
    });
    this.commands = new CommandHandler({
      topics: this.topics,
      log,
      inc: (c) => this.metrics.inc(c),
      outputs: () => this.outputsPart.outputs,
      ha: () => this.haPart.ha,
      throttle: (key, line) => this.events.throttle(key, line),
    });
    this.reporting = new ReportingComponent({
      config,
      metrics: this.metrics,
      log,
      token: () => this.token,
      throttle: (key, line) => this.events.throttle(key, line),
      publishStats: (payload) => this.publishJson(this.topics.stats, payload, { cls: 'latest', qos: 'stream' }),
      privacySources: (r) => this.outputsPart.outputs!.privacySources(r),
      status: () => ({
        version: VERSION,
        state: () => ({ state: this.health.state, detail: this.health.detail ?? null }),
        models: () => {
          const { detector, segmenter } = models();
          return {
            detector: { name: detector.manifest.name, precision: detector.manifest.precision },
            segmenter: segmenter
              ? { name: segmenter.manifest.name, precision: segmenter.manifest.precision, classes: segmenter.manifest.labels }
              : null,
          };
        },
        inferenceCores: () => this.enginePart.engine?.affinity?.allowed ?? null,
        counts: () => Object.fromEntries(this.outputsPart.outputs?.labelCounts() ?? []),
      }),
      onHttpPort: (port) => this.haPart.ha?.setMetricsHttpPort(port), // HA device page links to /metrics
    });
    const capture = new CaptureComponent({
      lc: getLc,
      log,
      engine: () => this.enginePart.engine!,
      models,
      frames: p.frames,
      onSourceEvent: (ev) => this.events.route({ origin: 'camera', ...ev }),
      onPipelineEvent: (ev) => this.events.route({ origin: 'pipeline', ...ev }),
      onResult: (r) => void this.onResult(r),
      onFailure: (e) => {
        log.error({ err: e.message }, 'frame source failed');
        this.metrics.noteError(`frame source failed: ${e.message}`);
        this.health.setState('degraded', e.message);
      },
    });
    const step = (name: string, start: () => void): Component => ({ name, start: async () => start(), stop: async () => undefined });
    this.runner = new ComponentRunner(
      [
        this.broker,
        // before the slow model preparation: a bad token is a config error, reported at once
        step('http token', () => (this.token = config().metrics.http.enabled ? readHttpToken(this.lc, env, log) : null)),
        this.modelsPart,
        this.enginePart,
        step('models ready', () => this.health.readiness.mark('models')),
        this.haPart,
        this.mqtt,
        this.outputsPart,
        this.commands,
        this.reporting,
        capture,
        step('pipeline ready', () => this.health.readiness.mark('pipeline')),
      ],
      log,
    );
  }

  get config(): Config {
    return this.lc.config;
  }

  async start(): Promise<void> {
    this.health.readiness.mark('config');
    warnIfSecretsReadable(this.lc, this.env, this.log);
    await this.runner.start();
    if (this.health.state === 'starting') this.health.setState('running');
    this.health.start(this.metrics, this.enginePart.engine!);
    const cfg = this.config;
    this.log.info({ camera: cfg.camera.name, source: cfg.camera.source, topics: this.topics.root, version: VERSION }, 'edgesight running');
  }

  private publishState(): void {
    const p = this.mqtt.publisher!;
    p.publish(this.topics.availability, 'online', { retain: true, cls: 'latest' });
    const info = infoPayload(this.config, this.modelsPart.models, this.startedAt, this.enginePart.engine?.affinity?.allowed ?? null);
    this.publishJson(this.topics.info, info, { retain: true, cls: 'latest' });
    this.outputsPart.outputs?.publishState();
    this.haPart.ha?.publishAll(); // on every connect and after SIGHUP (objects.track may have changed)
  }

  private publishJson(topic: string, payload: { v: number }, opts: Parameters<MqttPublisher['publish']>[2]): void {
    this.mqtt.publisher?.publish(topic, JSON.stringify(this.seq.stamp(topic, payload)), opts);
  }

  private async onResult(r: FrameResult): Promise<void> {
    this.reporting.live?.push(r);
    try {
      await this.outputsPart.outputs!.onResult(r);
    } catch (e) {
      this.log.error({ err: (e as Error).message, frame_id: r.frameId }, 'publishing a result failed');
      this.metrics.noteError(`publishing a result failed: ${(e as Error).message}`);
    }
    this.metrics.recordFrame(r.timings);
  }

  /**
   * SIGHUP: re-read the config. What the schema marks live applies at once, connection keys reconnect,
   * the rest is listed as needing a restart; an invalid file (or an unreadable password/PEM file) changes
   * nothing.
   */
  reload(next: LoadedConfig): { applied: string[]; needsRestart: string[]; reconnected: boolean } {
    const plan = planReload(this.config, next.config, { segmenterLoaded: this.modelsPart.models.segmenter !== null });
    const previous = this.lc;
    this.lc = { ...next, config: plan.merged };
    try {
      // in start order, so the MQTT connection comes first: a password or PEM file that cannot be read
      // refuses the reload before anything took it over. The result publisher is the same one after: tracks,
      // counts and line totals carry on (no 1 → 0 → 1, no second `new`).
      this.runner.applyConfig(plan.merged, plan);
    } catch (e) {
      this.lc = previous;
      throw e;
    }
    this.log.level = plan.merged.logging.level;
    this.publishState();
    return { applied: plan.applied, needsRestart: plan.needsRestart, reconnected: this.mqtt.reconnected };
  }

  /** Stop capture, abandon the in-flight frame, publish `offline`, flush MQTT — within `timeoutMs`. */
  /** Resolves with the number of inference threads still stuck inside ONNX Runtime (the caller must exit hard). */
  stop(timeoutMs = 4000): Promise<{ stuckThreads: number }> {
    this.stopping ??= this.doStop(timeoutMs);
    return this.stopping;
  }

  private async doStop(timeoutMs: number): Promise<{ stuckThreads: number }> {
    this.health.setState('stopping');
    this.health.stop();
    await this.runner.stop({ deadline: Date.now() + timeoutMs, totalMs: timeoutMs });
    return { stuckThreads: this.enginePart.stuckThreads.length };
  }
}
