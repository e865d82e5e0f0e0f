import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  // tests run from dist/test/cli; fixtures stay in the source tree (they are not compiled)
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'src', 'config'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the repository above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

export const REPO = findRepoRoot();
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
