/**
 * Root hook for the whole suite (loaded by .mocharc.json): mocha runs without `--exit`, so a test that
 * leaves a socket, server, child process or timer behind keeps the process alive. Rather than hang the CI,
 * the run fails a few seconds after the last test, naming what is still open.
 */
const GRACE_MS = 10_000;

interface Handle {
  constructor?: { name?: string };
  address?: () => unknown;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
  spawnfile?: string;
  spawnargs?: string[];
}

function describeHandle(h: Handle): string {
  const name = h?.constructor?.name ?? typeof h;
  if (name === 'Server' && h.address) return `Server ${JSON.stringify(h.address())}`;
  if (name === 'Socket') return `Socket local :${h.localPort} remote ${h.remoteAddress ?? '-'}:${h.remotePort ?? '-'}`;
  if (name === 'ChildProcess') return `ChildProcess ${[h.spawnfile, ...(h.spawnargs ?? []).slice(1)].join(' ')}`;
  return name;
}

export const mochaHooks = {
  afterAll(): void {
    setTimeout(() => {
      const handles = (process as unknown as { _getActiveHandles(): Handle[] })._getActiveHandles();
      process.stderr.write(
        `\nthe test process is still alive ${GRACE_MS / 1000} s after the last test: something a test opened was not closed\n` +
          `  resources: ${process.getActiveResourcesInfo().join(', ')}\n` +
          handles.map((h) => `  handle: ${describeHandle(h)}\n`).join(''),
      );
      // mocha sets the exit code from the failure count in its own 'exit' listener; this one runs after it
      process.on('exit', () => {
        process.exitCode = 1;
      });
      process.exit(1);
    }, GRACE_MS).unref();
  },
};
