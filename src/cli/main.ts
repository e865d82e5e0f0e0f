#!/usr/bin/env node
import { UsageError } from './args.js';
import type { CommandSpec } from './commands.js';
import { check, findCommand, groupHelp, topHelp, usageMessage, PROGRAM } from './dispatch.js';
import { EX_USAGE } from './exit-codes.js';
import { VERSION } from '../service/version.js';
import { HANDLERS } from './handlers.js';

function usage(message: string): number {
  process.stderr.write(`${PROGRAM}: ${message}\n`);
  return EX_USAGE;
}

async function main(argv: string[]): Promise<number> {
  const [first] = argv;
  if (first === '--version' || first === '-v' || first === '-V') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    // `edgesight help models` reads as well as `edgesight models --help`
    if (first === 'help' && argv.length > 1) return main([...argv.slice(1), '--help']);
    (first === undefined ? process.stderr : process.stdout).write(topHelp(VERSION));
    return first === undefined ? EX_USAGE : 0;
  }
  const found = findCommand(argv);
  if ('unknown' in found)
    return usage(
      `unknown command '${found.unknown}'; commands: ${[...new Set(Object.keys(HANDLERS).map((p) => p.split(' ')[0]))].join(', ')} (see ${PROGRAM} --help)`,
    );
  if ('group' in found) {
    const { group, sub } = found;
    if (sub === '--help' || sub === '-h' || sub === 'help') {
      process.stdout.write(groupHelp(group));
      return 0;
    }
    process.stderr.write(`${PROGRAM} ${group}: ${sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub}'`}\n\n${groupHelp(group)}`);
    return EX_USAGE;
  }
  const { spec, rest } = found;
  const checked = check(spec, rest);
  if (checked.kind === 'help') {
    process.stdout.write(checked.text);
    return 0;
  }
  if (checked.kind === 'usage-error') return usage(`${spec.path}: ${checked.message}`);
  return runHandler(spec, rest);
}

async function runHandler(spec: CommandSpec, argv: string[]): Promise<number> {
  try {
    return await (await HANDLERS[spec.path]!())(argv);
  } catch (e) {
    if (e instanceof UsageError) return usage(`${spec.path}: ${usageMessage(spec, e)}`);
    process.stderr.write(`${PROGRAM} ${spec.path}: ${(e as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${PROGRAM}: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
