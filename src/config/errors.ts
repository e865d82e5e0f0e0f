/** One problem in a config: the dotted key path, where it is, and what was expected. */
export interface ConfigProblem {
  path: string;
  line?: number;
  /** e.g. "env EDGESIGHT__MQTT__URL" when the value came from the environment */
  source?: string;
  message: string;
}

/** EX_CONFIG from sysexits.h: systemd's RestartPreventExitStatus=78 keeps a bad config from restart-looping. */
export const EX_CONFIG = 78;

export class ConfigError extends Error {
  constructor(
    readonly file: string | null,
    readonly problems: ConfigProblem[],
  ) {
    super(`${file ?? 'configuration'}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
    this.name = 'ConfigError';
  }

  /** One line per problem: `file:line: key.path: message` — greppable and editor-clickable. */
  format(): string {
    return this.problems
      .map((p) => {
        const where = p.source ? p.source : `${this.file ?? '<config>'}${p.line ? `:${p.line}` : ''}`;
        return `${where}: ${p.path || '(top level)'}: ${p.message}`;
      })
      .join('\n');
  }
}
