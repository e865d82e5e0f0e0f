/** Invalid camera options: the daemon should refuse to start (config exit code), not retry. */
export class CameraConfigError extends Error {
  override readonly name = 'CameraConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? problems[0]! : `invalid camera config:\n  - ${problems.join('\n  - ')}`);
  }
}

/** The camera (or the program that drives it) is not there right now; sources retry, never fail. */
export class CameraMissingError extends Error {
  override readonly name = 'CameraMissingError';
}
