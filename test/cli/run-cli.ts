import { spawn } from 'node:child_process';
import path from 'node:path';

import { REPO } from '../helpers/paths.js';

export { REPO };
export const MAIN = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
export const CONFIG_FIXTURES = path.join(REPO, 'test', 'fixtures', 'config');
export { PHOTOS_DIR as PHOTOS } from '../helpers/paths.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node dist/src/cli/main.js ARGS` as a real child process. The environment is the given one plus
 * PATH/HOME only, so a developer's own EDGESIGHT_* variables cannot leak into a test.
 */
export function runCli(args: string[], env: Record<string, string> = {}, cwd = REPO): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A Node stack frame line ("    at foo (file:1:2)") — never acceptable in user-facing error output. */
export const STACK_FRAME = /^\s+at .+[:(]/m;
