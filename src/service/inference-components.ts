import type { LoadedConfig } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import type { EngineEvent, InferenceEngine } from '../inference/engine.js';
import type { LoadedModel } from '../models/store.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../mqtt/broker.js';
import type { Component, StopBudget } from './component.js';
import type { Config } from '../config/types.js';

export interface ConfiguredModels {
  detector: LoadedModel;
  segmenter: LoadedModel | null;
}

/** The embedded broker, when mqtt.url is null. First: a taken port is found in milliseconds, not after the model load. */
export class EmbeddedBrokerComponent implements Component {
  readonly name = 'embedded broker';
  broker: EmbeddedBroker | null = null;

  constructor(private readonly config: () => Config) {}

  async start(): Promise<void> {
    const m = this.config().mqtt;
    if (!m.url) this.broker = await startEmbeddedBroker(m.embedded_broker.host, m.embedded_broker.port);
  }

  async stop(): Promise<void> {
    await this.broker?.close();
  }
}

/** The configured models, prepared when missing and loaded through their manifests. */
export class ModelsComponent implements Component {
  readonly name = 'models';
  private loaded: ConfiguredModels | null = null;

  constructor(
    private readonly lc: () => LoadedConfig,
    private readonly log: Logger,
    private readonly load: (lc: LoadedConfig, log: Logger) => Promise<ConfiguredModels>,
  ) {}

  get models(): ConfiguredModels {
    if (!this.loaded) throw new Error('models used before they were loaded');
    return this.loaded;
  }

  get started(): boolean {
    return this.loaded !== null;
  }

  async start(): Promise<void> {
    this.loaded = await this.load(this.lc(), this.log);
    const { detector, segmenter } = this.loaded;
    this.log.info(
      { detector: detector.manifestPath, segmenter: segmenter?.manifestPath ?? null, precision: detector.manifest.precision },
      'models loaded',
    );
  }

  async stop(): Promise<void> {}
}

/** The inference worker on its pinned core. A pin that fails is a start failure, not a silent unpinned run. */
export class EngineComponent implements Component {
  readonly name = 'inference engine';
  engine: InferenceEngine | null = null;
  stuckThreads: number[] = [];

  constructor(
    private readonly deps: {
      config: () => Config;
      models: () => ConfiguredModels;
      log: Logger;
      create: (models: ConfiguredModels, cfg: Config) => { engine: InferenceEngine; core: number };
      events: (ev: EngineEvent) => void;
    },
  ) {}

  async start(): Promise<void> {
    const { engine, core } = this.deps.create(this.deps.models(), this.deps.config());
    this.engine = engine;
    engine.on('event', (ev: EngineEvent) => this.deps.events(ev));
    const affinity = await engine.start();
    if (affinity.error) throw new Error(`could not pin the inference thread to core ${core}: ${affinity.error}`);
    this.deps.log.info(
      { core, tid: affinity.tid, cpus_allowed_list: affinity.allowed },
      `inference thread ${affinity.tid} pinned to core ${affinity.allowed}`,
    );
  }

  async stop(budget: StopBudget): Promise<void> {
    this.stuckThreads = (await this.engine?.stop(Math.min(1500, budget.totalMs / 2)))?.stuckThreads ?? [];
    if (this.stuckThreads.length)
      this.deps.log.error({ stuck_threads: this.stuckThreads }, 'an inference run is stuck inside ONNX Runtime and cannot be interrupted');
  }
}
