import { fleetCliCommand } from './fleet.js';

/** `edgesight stats`: the fleet view under its former name (JSON lines when piped, as before). */
export function statsCliCommand(argv: string[]): Promise<number> {
  return fleetCliCommand(argv, { alias: 'stats' });
}
