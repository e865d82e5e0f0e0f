import { Command, CommanderError, Option } from 'commander';
import { COMMAND_SPECS, ENVIRONMENT, GROUPS, type CommandSpec } from './commands.js';
import { EXIT_CODES } from './exit-codes.js';
import { UsageError } from './args.js';

/**
 * Help and option checking for every command, from the specs in commands.ts. commander renders the help
 * (aligned, wrapped, the same for every command), finds unknown options and missing values, and suggests
 * the nearest option or command; the handlers then read the same option objects with parseArgs.
 */

/** The outcome of looking at argv before a handler runs. */
export type Checked = { kind: 'help'; text: string } | { kind: 'run'; spec: CommandSpec; argv: string[] } | { kind: 'usage-error'; message: string };

export const PROGRAM = 'edgesight';

function optionFlags(name: string, o: CommandSpec['options'][string]): string {
  const value = o.type === 'string' ? ` <${o.arg ?? 'VALUE'}>` : '';
  return `${o.short ? `-${o.short}, ` : ''}--${name}${value}`;
}

/** The commander command for a spec: for help and checking only (its action is never run). */
export function commanderFor(spec: CommandSpec): Command {
  const cmd = new Command(`${PROGRAM} ${spec.path}`)
    .description(spec.summary + (spec.details ? `\n\n${spec.details}` : ''))
    .usage(`[options]${spec.args ? ` ${spec.args}` : ''}`)
    .helpOption('-h, --help', 'show this help')
    .allowExcessArguments(spec.args !== undefined)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined })
    .configureHelp({ helpWidth: 100 });
  for (const [name, o] of Object.entries(spec.options)) {
    // "--no-verify" is an option of its own here, not commander's negation of --verify
    const opt = new Option(optionFlags(name, o), o.help + (o.dflt !== undefined ? ` (default: ${o.dflt})` : ''));
    if (o.multiple) opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    cmd.addOption(opt);
  }
  if (spec.aliases?.length) cmd.addHelpText('after', `\nAlias: ${spec.aliases.map((a) => `${PROGRAM} ${spec.path.split(' ')[0]} ${a}`).join(', ')}`);
  cmd.addHelpText('after', `\nSee ${PROGRAM} --help for the environment variables and exit codes.`);
  return cmd;
}

export function helpFor(spec: CommandSpec): string {
  let text = '';
  // outputHelp (unlike helpInformation) includes the addHelpText sections
  commanderFor(spec)
    .configureOutput({ writeOut: (s) => void (text += s) })
    .outputHelp();
  return text;
}

/** A list of a command's valid options, for error messages. */
export function validOptions(spec: CommandSpec): string {
  return [...Object.entries(spec.options).map(([n, o]) => (o.short ? `-${o.short}/--${n}` : `--${n}`)), '-h/--help'].join(', ');
}

/** Check argv for one command: help requested, usage error (named with the valid options), or run. */
export function check(spec: CommandSpec, argv: string[]): Checked {
  // `--` ends the options: a file named "-h" after it is not a request for help
  const end = argv.indexOf('--');
  const opts = end === -1 ? argv : argv.slice(0, end);
  if (opts.includes('--help') || opts.includes('-h')) return { kind: 'help', text: helpFor(spec) };
  const cmd = commanderFor(spec);
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    const message = e.message
      .replace(/^error: /, '')
      .replace(/\n/g, ' ')
      .trim();
    const hint = e.code === 'commander.unknownOption' ? `; valid options: ${validOptions(spec)}` : '';
    return { kind: 'usage-error', message: `${message}${hint} (see ${PROGRAM} ${spec.path} --help)` };
  }
  return { kind: 'run', spec, argv };
}

/** The spec for a command path, or a usage error naming the valid choices. */
export function findCommand(
  argv: string[],
): { spec: CommandSpec; rest: string[] } | { group: string; sub: string | undefined } | { unknown: string } {
  const [first, ...rest] = argv;
  if (first === undefined) return { unknown: '' };
  if (first in GROUPS) {
    const [sub, ...after] = rest;
    const spec = COMMAND_SPECS.find((s) => s.path === `${first} ${sub}` || (s.path.startsWith(`${first} `) && s.aliases?.includes(sub ?? '')));
    return spec ? { spec, rest: after } : { group: first, sub };
  }
  const spec = COMMAND_SPECS.find((s) => s.path === first);
  return spec ? { spec, rest } : { unknown: first };
}

export function groupHelp(group: string): string {
  const subs = COMMAND_SPECS.filter((s) => s.path.startsWith(`${group} `));
  const width = Math.max(...subs.map((s) => s.path.length - group.length - 1 + (s.args ? s.args.length + 1 : 0))) + 2;
  const lines = subs.map((s) => {
    const sub = s.path.slice(group.length + 1) + (s.args ? ` ${s.args}` : '');
    return `  ${sub.padEnd(width)}${s.summary}`;
  });
  return `Usage: ${PROGRAM} ${group} <subcommand> [options]\n\n${GROUPS[group]}\n\nSubcommands:\n${lines.join('\n')}\n\n${PROGRAM} ${group} <subcommand> --help lists each one's options.\n`;
}

export function topHelp(version: string): string {
  const entries: Array<[string, string]> = [];
  const seenGroups = new Set<string>();
  for (const s of COMMAND_SPECS) {
    const group = s.path.split(' ')[0]!;
    if (group in GROUPS && !seenGroups.has(group)) {
      seenGroups.add(group);
      entries.push([`${group} <subcommand>`, GROUPS[group]!]);
    }
    entries.push([`${group in GROUPS ? '  ' : ''}${s.path.slice(group in GROUPS ? group.length + 1 : 0)}${s.args ? ` ${s.args}` : ''}`, s.summary]);
  }
  const w = Math.max(...entries.map(([a]) => a.length)) + 2;
  const env = ENVIRONMENT.map(([k, v]) => `  ${k.padEnd(36)}${v}`).join('\n');
  const codes = EXIT_CODES.map(([c, v]) => `  ${String(c).padEnd(4)}${v}`).join('\n');
  return `${PROGRAM} ${version} — edge vision daemon: camera → SSDLite detection + LR-ASPP segmentation → MQTT

Usage: ${PROGRAM} <command> [options]      ${PROGRAM} <command> --help for its options

Commands:
${entries.map(([a, b]) => `  ${a.padEnd(w)}${b}`).join('\n')}

Options:
  -h, --help                          this help (after a command: that command's help)
  -v, --version                       print the version

Environment:
${env}

Exit status:
${codes}

Documentation: README.md and docs/ (docs/configuration.md: every config key)
`;
}

/** Turns a handler's UsageError (a bad option value) into the same shape as a parse error. */
export function usageMessage(spec: CommandSpec, e: UsageError): string {
  return `${e.message} (see ${PROGRAM} ${spec.path} --help)`;
}
