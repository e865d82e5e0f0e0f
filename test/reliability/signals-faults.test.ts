import assert from 'node:assert/strict';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Collector, startDaemon, writeConfig, type DaemonProc } from '../helpers/daemon.js';
import { useBroker } from '../helpers/e2e.js';
import { childrenOf, daemonYaml, faultEnv, freePort, PROCESSED, recordFigures, sleep, waitForMetric, waitForOutput } from './util.js';

describe('reliability: signals at awkward moments and a SIGHUP storm', function () {
  this.timeout(300_000);
  let daemon: DaemonProc | null = null;
  const mq = useBroker(() => daemon);

  it('100 SIGHUPs in about 10 s alternating valid and invalid files: never a crash, every invalid one logged with its line, the last valid config in force', async () => {
    const http = await freePort();
    const base = (threshold: string, extra = ''): string =>
      daemonYaml({ id: 'storm', url: mq.broker.url, httpPort: http, extra: `detection:\n  score_threshold: ${threshold}\n${extra}` });
    const file = await writeConfig(base('0.5'));
    daemon = startDaemon(file, faultEnv());
    await waitForMetric(http, PROCESSED, (v) => v > 0, 180_000, 'the first processed frame', daemon);
    const sub = await Collector.connect(mq.broker.url, ['edgesight/storm/info']);
    try {
      const lineOf = (yaml: string, needle: string): number => yaml.split('\n').findIndex((l) => l.includes(needle)) + 1;
      // three kinds of invalid file, each with the line its problem is on
      const invalid = [
        (): { yaml: string; line: number } => {
          const y = base('7.5');
          return { yaml: y, line: lineOf(y, 'score_threshold: 7.5') };
        },
        (): { yaml: string; line: number } => {
          const y = base('0.4', 'bogus_section: { x: 1 }');
          return { yaml: y, line: lineOf(y, 'bogus_section') };
        },
        (): { yaml: string; line: number } => {
          const y = base('0.4', 'segmentation: { every: "often" }').replace('segmentation: { every: 0 }\n', '');
          return { yaml: y, line: lineOf(y, 'every: "often"') };
        },
      ];
      let lastValid = '';
      let refusedWithLine = 0;
      let reloaded = 0;
      const t0 = performance.now();
      for (let i = 0; i < 100; i++) {
        const mark = daemon.output().length;
        let expectLine = 0;
        if (i % 2 === 0) {
          lastValid = (0.3 + (i % 10) * 0.03).toFixed(2);
          await writeFile(file, base(lastValid));
        } else {
          const bad = invalid[(i >> 1) % invalid.length]!();
          expectLine = bad.line;
          await writeFile(file, bad.yaml);
        }
        daemon.child.kill('SIGHUP');
        const verdict = await waitForOutput(daemon, /.*(config reloaded|still running on the previous one).*/, 20_000, mark);
        if (i % 2 === 0) {
          assert.match(verdict, /config reloaded/, `valid file ${i}`);
          reloaded++;
        } else {
          assert.match(verdict, /still running on the previous one/, `invalid file ${i}`);
          const refusals = daemon
            .output()
            .slice(mark)
            .split('\n')
            .filter((l) => l.includes('config reload refused'));
          assert.ok(
            refusals.some((l) => l.includes(`"line":${expectLine}`)),
            `invalid file ${i}: no refusal names line ${expectLine}:\n${refusals.join('\n')}`,
          );
          refusedWithLine++;
        }
        const wait = t0 + (i + 1) * 100 - performance.now();
        if (wait > 0) await sleep(wait);
      }
      const seconds = (performance.now() - t0) / 1000;
      assert.equal(daemon.child.exitCode, null, 'still running');
      // the info topic is republished with the config in force on every applied reload (never on a refused
      // one): its latest value carries the last valid threshold
      await sleep(1000);
      const infos = sub.messages.filter((m) => m.topic === 'edgesight/storm/info');
      const cfg = (JSON.parse(infos.at(-1)!.payload.toString()) as { config: { detection: { score_threshold: number } } }).config;
      assert.equal(cfg.detection.score_threshold, Number(lastValid), 'the last valid config is in force');
      const p0 = (await waitForMetric(http, PROCESSED, () => true, 5000, 'metrics')).get(PROCESSED)!;
      await waitForMetric(http, PROCESSED, (v) => v > p0, 60_000, 'frames after the storm', daemon);
      recordFigures('SIGHUP storm', { sighups: 100, seconds: Number(seconds.toFixed(1)), reloaded, refused_with_line: refusedWithLine });
    } finally {
      await sub.close();
    }
  });

  it('SIGTERM during model preparation: exits at once; the next start never loads a half-made model', async () => {
    const cache = await mkdtemp(path.join(tmpdir(), 'edgesight-prepterm-'));
    const cfg = await writeConfig(daemonYaml({ id: 'prep', url: mq.broker.url, httpPort: await freePort(), extra: 'models: { precision: fp32 }' }));
    const env = faultEnv({ EDGESIGHT__MODELS__CACHE_DIR: cache });
    daemon = startDaemon(cfg, env);
    await waitForOutput(daemon, /not prepared yet: preparing it/, 120_000);
    const t = performance.now();
    daemon.child.kill('SIGTERM');
    const exit = await daemon.exited;
    const ms = Math.round(performance.now() - t);
    assert.ok(exit.code === 0, `exit ${JSON.stringify(exit)}\n${daemon.output().slice(-2000)}`);
    daemon = startDaemon(cfg, env);
    await waitForOutput(daemon, /edgesight running/, 120_000);
    assert.doesNotMatch(daemon.output(), /refused/, 'nothing half-written was taken for a model');
    const leftovers = (await readdir(cache, { recursive: true })).filter((f) => String(f).endsWith('.json') && String(f).includes('.part'));
    assert.deepEqual(leftovers, []);
    recordFigures('SIGTERM during model preparation', { exit_ms: ms });
  });

  it('SIGTERM during startup, during a reload, and twice: exits 0 once, availability offline, no child left', async () => {
    const http = await freePort();
    const cfg = await writeConfig(daemonYaml({ id: 'term', url: mq.broker.url, httpPort: http }));
    const figures: Record<string, number> = {};
    // during startup: right after the process says it is starting
    daemon = startDaemon(cfg, faultEnv());
    await waitForOutput(daemon, /edgesight starting/, 60_000);
    let t = performance.now();
    daemon.child.kill('SIGTERM');
    let exit = await daemon.exited;
    figures.startup_exit_ms = Math.round(performance.now() - t);
    assert.equal(exit.code, 0, daemon.output().slice(-2000));

    // during a reload, then a second SIGTERM while stopping
    const sub = await Collector.connect(mq.broker.url, ['edgesight/term/availability']);
    daemon = startDaemon(cfg, faultEnv());
    const pid = daemon.child.pid!;
    await waitForMetric(http, PROCESSED, (v) => v > 0, 180_000, 'the first processed frame', daemon);
    daemon.child.kill('SIGHUP');
    daemon.child.kill('SIGTERM');
    await sleep(50);
    daemon.child.kill('SIGTERM');
    t = performance.now();
    exit = await daemon.exited;
    figures.reload_double_term_exit_ms = Math.round(performance.now() - t);
    assert.equal(exit.code, 0, daemon.output().slice(-2000));
    assert.equal(
      daemon
        .output()
        .split('\n')
        .filter((l) => l.includes('"msg":"stopping"')).length,
      1,
      'stops once',
    );
    assert.deepEqual(childrenOf(pid), [], 'no child left');
    const last = await sub.waitFor((tp, p) => tp.endsWith('/availability') && p.toString() === 'offline', 10_000, 'availability offline');
    assert.equal(last.payload.toString(), 'offline');
    await sub.close();
    recordFigures('SIGTERM at awkward moments', figures);
  });
});
