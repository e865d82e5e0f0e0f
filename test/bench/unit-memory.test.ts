import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { UNIT_FILE, unitMemoryEnv, withUnitMemory } from '../../src/bench/unit-memory.js';
import { REPO } from '../helpers/daemon.js';

describe('bench/unit-memory (the soak runs the daemon with the systemd unit memory settings)', () => {
  it('reads NODE_OPTIONS and MALLOC_* from the shipped unit, and nothing else', () => {
    const env = unitMemoryEnv(readFileSync(path.join(REPO, UNIT_FILE), 'utf8'));
    assert.deepEqual(Object.keys(env).sort(), ['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_', 'NODE_OPTIONS']);
    assert.match(env.NODE_OPTIONS!, /--max-semi-space-size=\d+/);
    assert.equal(env.NODE_ENV, undefined);
  });

  it("follows systemd's syntax: several assignments on one line, quoted words, comments ignored", () => {
    const env = unitMemoryEnv(
      [
        '# Environment=MALLOC_ARENA_MAX=9',
        'Environment=NODE_ENV=production "NODE_OPTIONS=--max-semi-space-size=2 --expose-gc" MALLOC_TRIM_THRESHOLD_=1',
        'Environment = MALLOC_ARENA_MAX=2',
      ].join('\n'),
    );
    assert.deepEqual(env, { NODE_OPTIONS: '--max-semi-space-size=2 --expose-gc', MALLOC_TRIM_THRESHOLD_: '1', MALLOC_ARENA_MAX: '2' });
  });

  it('a unit without memory settings is an error naming it, never a silent plain run', () => {
    assert.throws(() => unitMemoryEnv('[Service]\nEnvironment=NODE_ENV=production\n', 'x.service'), /x\.service sets no memory environment/);
  });

  it("appends the unit's NODE_OPTIONS to the caller's", () => {
    const { env, applied } = withUnitMemory({ NODE_OPTIONS: '--enable-source-maps', PATH: '/bin' }, path.join(REPO, UNIT_FILE));
    assert.equal(env.NODE_OPTIONS, `--enable-source-maps ${applied.NODE_OPTIONS}`);
    assert.equal(env.PATH, '/bin');
    assert.equal(env.MALLOC_ARENA_MAX, applied.MALLOC_ARENA_MAX);
  });
});
