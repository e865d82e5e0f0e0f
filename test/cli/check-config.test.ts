import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { CONFIG_FIXTURES, REPO, runCli, STACK_FRAME, type CliResult } from './run-cli.js';

interface Expected {
  line: number;
  path: string;
  message: RegExp;
}

/** `# expect: key.path | regex` comments mark the lines that must be reported (see test/fixtures/config/README.md). */
function expectations(file: string): Expected[] {
  const out: Expected[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const m = /#\s*expect:\s*(.+?)\s*\|\s*(.+?)\s*$/.exec(text);
      if (m) out.push({ line: i + 1, path: m[1]!, message: new RegExp(m[2]!) });
    });
  return out;
}

interface Reported {
  line: number;
  path: string;
  message: string;
}

/** Parses `FILE:LINE: key.path: message` lines; anything else on stderr besides the summary is an error. */
function reported(stderr: string, file: string): Reported[] {
  const lines = stderr.trimEnd().split('\n');
  const summary = lines.pop();
  assert.match(summary ?? '', new RegExp(`^${escapeRegExp(file)}: \\d+ problems?$`), `summary line of\n${stderr}`);
  return lines.map((l) => {
    assert.ok(l.startsWith(`${file}:`), `problem line does not start with the file name: ${l}`);
    const m = /^(\d+): (.+?): (.*)$/.exec(l.slice(file.length + 1));
    assert.ok(m, `problem line is not FILE:LINE: key.path: message: ${l}`);
    return { line: Number(m[1]), path: m[2]!, message: m[3]! };
  });
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('check-config on bad files (child process)', function () {
  this.timeout(120_000);
  const files = readdirSync(CONFIG_FIXTURES)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join(CONFIG_FIXTURES, f));
  const results = new Map<string, CliResult>();

  before(async () => {
    // a few at a time: each is only a Node start-up, and the machine has 2 cores
    const queue = [...files];
    const worker = async (): Promise<void> => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) results.set(f, await runCli(['check-config', '--config', f]));
    };
    await Promise.all([worker(), worker(), worker()]);
  });

  it('has at least 10 distinct bad files, each with expectations', () => {
    assert.ok(files.length >= 10, `only ${files.length} fixtures`);
    for (const f of files) assert.ok(expectations(f).length > 0, `${f} has no '# expect:' comment`);
  });

  for (const f of readdirSync(CONFIG_FIXTURES)
    .filter((n) => n.endsWith('.yaml'))
    .sort()) {
    it(`${f}: exit 78, every problem with its key path and line, nothing else`, () => {
      const file = path.join(CONFIG_FIXTURES, f);
      const r = results.get(file)!;
      assert.equal(r.code, 78, `exit code (stderr: ${r.stderr})`);
      assert.equal(r.stdout, '');
      assert.doesNotMatch(r.stderr, STACK_FRAME, 'no stack trace');
      const got = reported(r.stderr, file);
      const want = expectations(file);
      assert.deepEqual(
        got.map((p) => `${p.line}: ${p.path}`),
        want.map((e) => `${e.line}: ${e.path}`),
        `reported problems (in line order)\n${r.stderr}`,
      );
      got.forEach((p, i) => assert.match(p.message, want[i]!.message, `message for ${p.path}`));
    });
  }

  it('reports all three problems of several.yaml (misspelled key, wrong type, negative fps)', () => {
    const file = path.join(CONFIG_FIXTURES, 'several.yaml');
    const r = results.get(file)!;
    assert.match(r.stderr, new RegExp(`^${escapeRegExp(file)}:6: camera\\.fps: `, 'm'));
    assert.match(r.stderr, new RegExp(`^${escapeRegExp(file)}:10: detection\\.score_treshold: unknown key`, 'm'));
    assert.match(r.stderr, new RegExp(`^${escapeRegExp(file)}:11: detection\\.nms_iou: must be number`, 'm'));
    assert.match(r.stderr, /: 3 problems$/m);
  });
});

describe('check-config on good files and the environment (child process)', function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'edgesight-check-config-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const shipped = ['config/demo.yaml', 'config/edgesight.yaml'];
  it('accepts the shipped configs (exit 0, "OK")', async () => {
    const present = shipped.filter((f) => existsSync(path.join(REPO, f)));
    assert.ok(present.includes('config/demo.yaml'), 'config/demo.yaml is shipped');
    for (const f of present) {
      const r = await runCli(['check-config', '--config', f]);
      assert.equal(r.code, 0, `${f}: ${r.stderr}`);
      assert.equal(r.stdout, `${f}: OK\n`);
    }
  });

  it('EDGESIGHT_CONFIG selects the file when --config is absent', async () => {
    const bad = path.join(CONFIG_FIXTURES, 'negative-fps.yaml');
    const r = await runCli(['check-config'], { EDGESIGHT_CONFIG: bad });
    assert.equal(r.code, 78);
    assert.match(r.stderr, new RegExp(`^${escapeRegExp(bad)}:3: camera\\.fps: must be > 0`, 'm'));
    // --config wins over EDGESIGHT_CONFIG
    const ok = await runCli(['check-config', '--config', 'config/demo.yaml'], { EDGESIGHT_CONFIG: bad });
    assert.equal(ok.code, 0, ok.stderr);
  });

  it('names the environment variable of a bad override, and the file line of a bad file key, together', async () => {
    const r = await runCli(['check-config', '--config', path.join(CONFIG_FIXTURES, 'negative-fps.yaml')], {
      EDGESIGHT__INFERENCE__CORE: 'last',
      EDGESIGHT__MQTT__BASE_TOPICS: 'x',
    });
    assert.equal(r.code, 78);
    assert.doesNotMatch(r.stderr, STACK_FRAME);
    assert.match(r.stderr, /^env EDGESIGHT__INFERENCE__CORE: inference\.core: must be integer \(got "last"\)$/m);
    assert.match(r.stderr, /^env EDGESIGHT__MQTT__BASE_TOPICS: mqtt\.base_topics: unknown config key$/m);
    assert.match(r.stderr, /negative-fps\.yaml:3: camera\.fps: /);
    assert.match(r.stderr, /: 3 problems$/m);
  });

  it('a missing file is a config error naming the file (exit 78)', async () => {
    const missing = path.join(tmp, 'nope.yaml');
    const r = await runCli(['check-config', '--config', missing]);
    assert.equal(r.code, 78);
    assert.match(r.stderr, new RegExp(`^${escapeRegExp(missing)}: \\(top level\\): cannot read the config file \\(ENOENT\\)$`, 'm'));
    assert.doesNotMatch(r.stderr, STACK_FRAME);
  });

  it('--print shows the merged config with secrets redacted', async () => {
    const file = path.join(tmp, 'secret.yaml');
    writeFileSync(file, 'mqtt:\n  url: mqtts://cam:hunter2@broker.local:8883\n  username: cam\n');
    const r = await runCli(['check-config', '--config', file, '--print'], { EDGESIGHT__MQTT__PASSWORD: 'hunter2' });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes('hunter2'), r.stdout);
    const printed = JSON.parse(r.stdout.slice(r.stdout.indexOf('\n') + 1)) as { mqtt: Record<string, unknown>; detection: Record<string, unknown> };
    assert.equal(printed.mqtt.password, '***');
    assert.equal(printed.mqtt.url, 'mqtts://***@broker.local:8883');
    assert.equal(printed.mqtt.username, 'cam');
    // defaults are merged in: the schema's default threshold is printed
    assert.equal(printed.detection.score_threshold, parseConfigText('', null, { env: {} }).config.detection.score_threshold);
  });

  it('an unknown option is a usage error (exit 64), not a config error', async () => {
    const r = await runCli(['check-config', '--confg', 'x.yaml']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /--confg/);
    assert.doesNotMatch(r.stderr, STACK_FRAME);
  });
});
