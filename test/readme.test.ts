import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { renderConfigReference } from '../src/config/reference.js';
import { REPO } from './helpers/daemon.js';

describe('README', () => {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');

  it('carries the configuration reference exactly as the schema renders it', () => {
    const m = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(readme);
    assert.ok(m, 'README has no config-reference block');
    assert.equal(m[1], renderConfigReference(), 'README config reference is stale: regenerate it with `edgesight check-config --reference`');
  });

  it('names the two commands a new user needs', () => {
    assert.match(readme, /npm install && npm start/);
    assert.match(readme, /npm test/);
  });
});
