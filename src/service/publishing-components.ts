import type { Config, LoadedConfig } from '../config/types.js';
import type { Logger } from '../logging/logger.js';
import { ConfigError } from '../config/errors.js';
import { HomeAssistantDiscovery, homeAssistantConfigProblems } from '../homeassistant/discovery.js';
import type { MqttPublisher } from '../mqtt/client.js';
import type { CameraTopics } from '../mqtt/topics.js';
import type { Component } from './component.js';
import { ResultPublisher, lineStateFile } from '../publish/result-publisher.js';
import { VERSION } from './version.js';

/** Home Assistant discovery, when mqtt.homeassistant.enabled; before the MQTT client, which subscribes to its topics. */
export class HomeAssistantComponent implements Component {
  readonly name = 'home assistant';
  ha: HomeAssistantDiscovery | null = null;

  constructor(
    private readonly deps: { lc: () => LoadedConfig; topics: CameraTopics; log: Logger; publisher: () => Pick<MqttPublisher, 'publish'> | null },
  ) {}

  async start(): Promise<void> {
    const lc = this.deps.lc();
    if (!lc.config.mqtt.homeassistant.enabled) return;
    const problems = homeAssistantConfigProblems(lc.config);
    if (problems.length) {
      const err = new ConfigError(lc.file, problems);
      err.message = err.format();
      throw err;
    }
    // the publisher is created after this; discovery publishes only from onConnect and messages, after that
    this.ha = new HomeAssistantDiscovery({
      config: () => this.deps.lc().config,
      topics: this.deps.topics,
      publisher: { publish: (t, p, o) => this.deps.publisher()?.publish(t, p, o) },
      log: this.deps.log,
      version: VERSION,
    });
  }

  async stop(): Promise<void> {}
}

/**
 * The result publisher (detections, masks, per-object events, counts, zones, lines, snapshots). It lives
 * as long as the daemon: a SIGHUP goes through its applyConfig, which keeps tracks, counts and line
 * totals; stop ends the open objects (their `end` events) before the connection closes.
 */
export class OutputsComponent implements Component {
  readonly name = 'result publisher';
  outputs: ResultPublisher | null = null;

  constructor(
    private readonly deps: {
      lc: () => LoadedConfig;
      topics: CameraTopics;
      log: Logger;
      env: NodeJS.ProcessEnv;
      publisher: () => Pick<MqttPublisher, 'publish'>;
      segmenterClasses: () => readonly string[] | null;
      onEvents: (n: number) => void;
      /** a snapshot privacy could not obscure was not published */
      onWithheld: () => void;
    },
  ) {}

  async start(): Promise<void> {
    const lc = this.deps.lc();
    this.outputs = new ResultPublisher(lc.config, this.deps.topics, this.deps.publisher(), this.deps.log, {
      segmenterClasses: this.deps.segmenterClasses(),
      stateFile: lineStateFile(lc.config, lc.dir, this.deps.env),
      onEvents: this.deps.onEvents,
      onWithheld: this.deps.onWithheld,
    });
  }

  applyConfig(next: Config): void {
    this.outputs?.applyConfig(next);
  }

  async stop(): Promise<void> {
    this.outputs?.finish();
  }
}
