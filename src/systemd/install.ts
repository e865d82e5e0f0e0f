import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `edgesight service install|uninstall`: everything is first planned as a list of actions (reading the
 * system only), then printed (dry run) or carried out in order. Tests give a `prefix` (a fake root for
 * files) and a recording `run`, so the same plan is exercised without touching the machine.
 */

export const SERVICE_USER = 'edgesight';
export const UNIT_NAME = 'edgesight.service';
export const UNIT_PATH = '/etc/systemd/system/edgesight.service';
export const CONFIG_DIR = '/etc/edgesight';
export const CONFIG_PATH = '/etc/edgesight/config.yaml';
export const CACHE_DIR = '/var/cache/edgesight';
export const STATE_DIR = '/var/lib/edgesight';
/** The program path the shipped unit uses in its Exec*= lines; install replaces it. */
export const UNIT_PROGRAM_PLACEHOLDER = '/usr/bin/edgesight';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}
export type CommandRunner = (command: string, args: readonly string[]) => Promise<CommandResult>;

export type Action =
  | { kind: 'run'; argv: readonly string[]; why: string; mayFail?: boolean; timed?: boolean }
  | { kind: 'mkdir'; path: string; mode: number; why: string }
  | { kind: 'write'; path: string; mode: number; content: string; why: string }
  | { kind: 'remove'; path: string; why: string }
  | { kind: 'keep'; why: string };

export interface ServiceOptions {
  dryRun: boolean;
  /** A root directory that every file path is placed under (tests, staging). Requires `run`. */
  prefix?: string;
  run?: CommandRunner;
  /** Where progress and the dry-run listing go; default stdout. */
  out?: (line: string) => void;
}

export interface InstallOptions extends ServiceOptions {
  /** Path of the unit template (the package's systemd/edgesight.service). */
  unitSource: string;
  /** Path of the default config (the package's config/edgesight.yaml). */
  configTemplate: string;
  /** argv prefix that replaces /usr/bin/edgesight, e.g. [node, .../dist/src/cli/main.js]; absolute paths. */
  execStart: readonly string[];
}

export async function installService(opts: InstallOptions): Promise<Action[]> {
  const env = context(opts);
  const unit = renderUnit(readText(opts.unitSource, 'unit template'), opts.execStart);
  const configText = readText(opts.configTemplate, 'config template');
  checkExecStart(opts.execStart);

  const actions: Action[] = [];
  if ((await env.run('getent', ['group', 'video'])).code !== 0) {
    actions.push({ kind: 'run', argv: ['groupadd', '--system', 'video'], why: 'the unit has SupplementaryGroups=video (camera nodes)' });
  }
  const user = await env.run('getent', ['passwd', SERVICE_USER]);
  if (user.code === 0) actions.push({ kind: 'keep', why: `system user ${SERVICE_USER} already exists` });
  else if (user.code === 2) {
    actions.push({
      kind: 'run',
      argv: [
        'useradd',
        '--system',
        '--user-group',
        '--home-dir',
        `/var/lib/${SERVICE_USER}`,
        '--no-create-home',
        '--shell',
        '/usr/sbin/nologin',
        '--comment',
        'edgesight daemon',
        SERVICE_USER,
      ],
      why: 'the service runs as an unprivileged system user',
    });
  } else throw new Error(`getent passwd ${SERVICE_USER} failed (exit ${user.code}): ${user.stderr.trim()}`);

  actions.push({ kind: 'mkdir', path: CONFIG_DIR, mode: 0o750, why: 'config directory, readable by the service group only' });
  actions.push({ kind: 'run', argv: ['chown', `root:${SERVICE_USER}`, env.path(CONFIG_DIR)], why: 'root owns the config; the service may read it' });
  if (existsSync(env.path(CONFIG_PATH))) {
    actions.push({ kind: 'keep', why: `${CONFIG_PATH} exists; left as it is` });
  } else {
    actions.push({ kind: 'write', path: CONFIG_PATH, mode: 0o640, content: configText, why: `default config from ${opts.configTemplate}` });
    actions.push({
      kind: 'run',
      argv: ['chown', `root:${SERVICE_USER}`, env.path(CONFIG_PATH)],
      why: 'readable by the service, may hold MQTT credentials',
    });
  }
  // systemd creates these on start (CacheDirectory=/StateDirectory=); made now so models can be fetched
  // into the service's cache before the first start. Same owner and mode systemd would use.
  for (const dir of [CACHE_DIR, STATE_DIR]) {
    actions.push({ kind: 'mkdir', path: dir, mode: 0o755, why: "the service user's own directory" });
    actions.push({
      kind: 'run',
      argv: ['chown', `${SERVICE_USER}:${SERVICE_USER}`, env.path(dir)],
      why: 'owned by the service user, as systemd would',
    });
  }
  const previous = existsSync(env.path(UNIT_PATH)) ? readFileSync(env.path(UNIT_PATH), 'utf8') : null;
  actions.push({
    kind: 'write',
    path: UNIT_PATH,
    mode: 0o644,
    content: unit,
    why: previous === null ? 'new unit' : previous === unit ? 'unit unchanged' : 'unit updated (upgrade)',
  });
  actions.push({ kind: 'run', argv: ['systemctl', 'daemon-reload'], why: 'make systemd read the unit' });
  // the first start then only loads models: no quantizing under systemd's start timeout
  actions.push({
    kind: 'run',
    argv: [
      'runuser',
      '-u',
      SERVICE_USER,
      '--',
      'env',
      `CACHE_DIRECTORY=${env.path(CACHE_DIR)}`,
      ...opts.execStart,
      'models',
      'prepare',
      '--config',
      env.path(CONFIG_PATH),
    ],
    why: 'prepare the configured models as the service user, into its cache, before the first start',
    timed: true,
  });

  await carryOut(actions, env);
  if (opts.dryRun) {
    env.out(`--- ${UNIT_PATH} (rendered) ---`);
    for (const line of unit.trimEnd().split('\n')) env.out(line);
    env.out('---');
  }
  env.out('');
  env.out('Next steps:');
  env.out(`  1. edit ${CONFIG_PATH} (camera, MQTT broker, models) and check it: edgesight check-config --config ${CONFIG_PATH}`);
  env.out(
    `  2. after changing models.* in the config, prepare them again: sudo -u ${SERVICE_USER} env CACHE_DIRECTORY=${CACHE_DIR} edgesight models prepare --config ${CONFIG_PATH}`,
  );
  env.out(`  3. sudo systemctl enable --now ${UNIT_NAME}`);
  env.out(`  4. systemctl status ${UNIT_NAME}; journalctl -u edgesight -f`);
  return actions;
}

export async function uninstallService(opts: ServiceOptions): Promise<Action[]> {
  const env = context(opts);
  const actions: Action[] = [
    { kind: 'run', argv: ['systemctl', 'disable', '--now', UNIT_NAME], why: 'stop it and remove it from boot', mayFail: true },
  ];
  if (existsSync(env.path(UNIT_PATH))) actions.push({ kind: 'remove', path: UNIT_PATH, why: 'the unit installed by service install' });
  else actions.push({ kind: 'keep', why: `${UNIT_PATH} is not there` });
  actions.push({ kind: 'run', argv: ['systemctl', 'daemon-reload'], why: 'make systemd forget the unit' });
  actions.push({ kind: 'run', argv: ['systemctl', 'reset-failed', UNIT_NAME], why: 'clear a failed state', mayFail: true });
  await carryOut(actions, env);
  env.out('');
  env.out(`Kept ${CONFIG_DIR}, ${STATE_DIR}, ${CACHE_DIR} and user ${SERVICE_USER}. To remove them too:`);
  env.out(`  sudo userdel ${SERVICE_USER}; sudo rm -r ${CONFIG_DIR} ${STATE_DIR} ${CACHE_DIR}`);
  return actions;
}

/** Replaces /usr/bin/edgesight in every Exec*= line with the resolved command, quoted for systemd. */
export function renderUnit(template: string, execStart: readonly string[]): string {
  if (execStart.length === 0) throw new Error('execStart is empty');
  const command = execStart.map(quoteForUnit).join(' ');
  let execStartLines = 0;
  const lines = template.split('\n').map((line) => {
    const m = /^(Exec[A-Za-z]+=)([-@:+!]*)(\S+)(.*)$/.exec(line);
    if (!m || m[3] !== UNIT_PROGRAM_PLACEHOLDER) return line;
    if (m[1] === 'ExecStart=') execStartLines++;
    return `${m[1]}${m[2]}${command}${m[4]}`;
  });
  if (execStartLines !== 1) {
    throw new Error(`unit template must have exactly one "ExecStart=${UNIT_PROGRAM_PLACEHOLDER} …" line, found ${execStartLines}`);
  }
  const header =
    '# Written by `edgesight service install`, which overwrites it on upgrade: put local changes in a\n' +
    '# drop-in (`sudo systemctl edit edgesight`) instead of editing this file.\n';
  return header + lines.join('\n');
}

/** systemd.syntax(7): specifiers (%) and variables ($) doubled; quote words with spaces or quotes. */
export function quoteForUnit(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (escaped !== '' && !/[\s"'\\;]/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The command this installed copy of edgesight runs as: this Node binary and the real path of the CLI. */
export function resolveExecStart(): string[] {
  const main = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  if (!existsSync(main)) throw new Error(`edgesight CLI not found at ${main}; is the package built?`);
  return [realpathSync(process.execPath), realpathSync(main)];
}

function checkExecStart(argv: readonly string[]): void {
  for (const p of argv) {
    if (!isAbsolute(p)) throw new Error(`ExecStart path ${JSON.stringify(p)} must be absolute`);
    if (!existsSync(p)) throw new Error(`ExecStart path ${p} does not exist`);
    // ProtectHome=yes hides these from the service: Node from nvm or a checkout in ~ would fail at start.
    if (/^\/(home|root|run\/user)(\/|$)/.test(p)) {
      throw new Error(
        `ExecStart path ${p} is under a home directory, which the unit hides (ProtectHome=yes); install Node and edgesight system-wide (npm install -g)`,
      );
    }
  }
  const prog = argv[0];
  if (prog !== undefined && (statSync(prog).mode & 0o111) === 0) throw new Error(`ExecStart program ${prog} is not executable`);
}

interface Context {
  dryRun: boolean;
  path: (p: string) => string;
  run: CommandRunner;
  out: (line: string) => void;
}

function context(opts: ServiceOptions): Context {
  if (opts.prefix !== undefined && !opts.run) {
    throw new Error('a prefix (fake root) needs an injected command runner, or useradd/systemctl would change the real system');
  }
  if (!opts.dryRun && opts.prefix === undefined && process.getuid?.() !== 0) {
    throw new Error('must run as root: use sudo (or add --dry-run to only show what would be done)');
  }
  const prefix = opts.prefix;
  return {
    dryRun: opts.dryRun,
    path: (p) => (prefix === undefined ? p : join(prefix, p)),
    run: opts.run ?? runCommand,
    out: opts.out ?? ((line) => process.stdout.write(`${line}\n`)),
  };
}

async function carryOut(actions: readonly Action[], env: Context): Promise<void> {
  for (const a of actions) {
    env.out(`${env.dryRun ? 'would ' : ''}${describeAction(a)}`);
    if (env.dryRun || a.kind === 'keep') continue;
    switch (a.kind) {
      case 'run': {
        const [cmd, ...args] = a.argv;
        if (cmd === undefined) throw new Error('empty command in plan');
        const t0 = Date.now();
        const r = await env.run(cmd, args);
        if (a.timed && r.code === 0)
          env.out(
            `  took ${((Date.now() - t0) / 1000).toFixed(1)} s${
              r.stderr.trim()
                ? `\n${r.stderr
                    .trim()
                    .split('\n')
                    .slice(-3)
                    .map((l) => `  | ${l}`)
                    .join('\n')}`
                : ''
            }`,
          );
        if (r.code !== 0) {
          const msg = `${a.argv.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`;
          if (!a.mayFail) throw new Error(msg);
          env.out(`  (ignored: ${msg})`);
        }
        break;
      }
      case 'mkdir':
        mkdirSync(env.path(a.path), { recursive: true, mode: a.mode });
        chmodSync(env.path(a.path), a.mode);
        break;
      case 'write':
        mkdirSync(dirname(env.path(a.path)), { recursive: true }); // /etc/systemd/system under a test prefix
        writeFileSync(env.path(a.path), a.content, { mode: a.mode });
        chmodSync(env.path(a.path), a.mode);
        break;
      case 'remove':
        rmSync(env.path(a.path));
        break;
    }
  }
}

export function describeAction(a: Action): string {
  switch (a.kind) {
    case 'run':
      return `run: ${a.argv.join(' ')}  # ${a.why}`;
    case 'mkdir':
      return `mkdir ${a.path} (mode ${a.mode.toString(8)})  # ${a.why}`;
    case 'write':
      return `write ${a.path} (mode ${a.mode.toString(8)}, ${Buffer.byteLength(a.content)} bytes)  # ${a.why}`;
    case 'remove':
      return `remove ${a.path}  # ${a.why}`;
    case 'keep':
      return `keep: ${a.why}`;
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export const runCommand: CommandRunner = (command, args) =>
  new Promise((resolve, reject) => {
    execFile(command, [...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new Error(`cannot run ${command}: ${err.message}`, { cause: err }));
        return;
      }
      resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });

const USAGE = 'usage: edgesight service install [--dry-run] | edgesight service uninstall [--dry-run]';

/** `edgesight service …`; argv is what follows "service". Returns the exit code. */
export async function serviceCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const unknown = rest.filter((a) => a !== '--dry-run');
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if ((sub !== 'install' && sub !== 'uninstall') || unknown.length > 0) {
    process.stderr.write(
      `edgesight service: ${sub === undefined ? 'missing subcommand' : `unexpected ${JSON.stringify(unknown[0] ?? sub)}`}\n${USAGE}\n`,
    );
    return 64; // EX_USAGE
  }
  const dryRun = rest.includes('--dry-run');
  try {
    if (sub === 'install') {
      const root = fileURLToPath(new URL('../../../', import.meta.url));
      await installService({
        dryRun,
        unitSource: join(root, 'systemd', UNIT_NAME),
        configTemplate: join(root, 'config', 'edgesight.yaml'),
        execStart: resolveExecStart(),
      });
    } else {
      await uninstallService({ dryRun });
    }
    return 0;
  } catch (err) {
    process.stderr.write(`edgesight service ${sub}: ${(err as Error).message}\n`);
    return 1;
  }
}
