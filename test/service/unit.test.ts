import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, type JsonSchema } from '../../src/config/schema.js';
import { EX_CONFIG, EX_NOINPUT } from '../../src/cli/exit-codes.js';
import { renderUnit } from '../../src/systemd/install.js';

const UNIT_SOURCE = fileURLToPath(new URL('../../../systemd/edgesight.service', import.meta.url));
const MAX_EXPOSURE = 2.5;
/** InferenceEngine's default restart backoff cap (src/inference/engine.ts, backoffMaxMs). */
const WORKER_BACKOFF_CAP_S = 30;

/** Directive → values, in order ("[Section]" headers and comments dropped). */
function directives(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, [...(out.get(m[1]!) ?? []), m[2]!]);
  }
  return out;
}
const one = (d: Map<string, string[]>, key: string): string => {
  const v = d.get(key);
  assert.ok(v && v.length === 1, `${key}= should appear exactly once, found ${JSON.stringify(v)}`);
  return v[0]!;
};
const seconds = (v: string): number => {
  const m = /^(\d+)(s?)$/.exec(v);
  assert.ok(m, `expected a number of seconds, got ${v}`);
  return Number(m[1]);
};

function systemdAnalyze(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`cannot run systemd-analyze (Debian package "systemd"): ${r.error.message}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function exposure(unitPath: string): number {
  const r = systemdAnalyze(['security', '--offline=yes', '--no-pager', unitPath]);
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(r.stdout);
  assert.ok(m, `no exposure score in systemd-analyze output (exit ${r.code}):\n${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

describe('systemd/edgesight.service', function () {
  this.timeout(60000);
  let dir: string;
  let rendered: string;
  let unitPath: string;
  const template = readFileSync(UNIT_SOURCE, 'utf8');
  const d = directives(template);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgesight-unit-'));
    // ExecStart must name an existing executable for verify: this Node and a stand-in CLI script.
    const main = join(dir, 'main.js');
    writeFileSync(main, '#!/usr/bin/env node\n');
    chmodSync(main, 0o755);
    rendered = renderUnit(template, [realpathSync(process.execPath), main]);
    unitPath = join(dir, 'edgesight.service');
    writeFileSync(unitPath, rendered);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('passes systemd-analyze verify once rendered', () => {
    const r = systemdAnalyze(['verify', '--man=no', unitPath]);
    assert.equal(r.code, 0, r.stderr);
    const complaints = r.stderr.split('\n').filter((l) => l.includes('edgesight.service'));
    assert.deepEqual(complaints, [], r.stderr);
  });

  it('verify would catch an ExecStart that does not exist (the check can fail)', () => {
    const broken = join(dir, 'broken', 'edgesight.service');
    spawnSync('mkdir', ['-p', join(dir, 'broken')]);
    writeFileSync(broken, renderUnit(template, [join(dir, 'no-such-node'), '/x.js']));
    const r = systemdAnalyze(['verify', '--man=no', broken]);
    assert.notEqual(r.code, 0, 'verify accepted a missing ExecStart binary');
  });

  it(`scores an overall exposure ≤ ${MAX_EXPOSURE} in systemd-analyze security --offline=yes`, () => {
    const score = exposure(unitPath);
    console.log(`      systemd-analyze security: overall exposure ${score} (limit ${MAX_EXPOSURE})`);
    assert.ok(score <= MAX_EXPOSURE, `exposure ${score} > ${MAX_EXPOSURE}`);
    // The parser and the limit mean something: the same unit without its hardening scores far worse.
    const bare = rendered
      .split('\n')
      .filter((l) => !/^(Protect|Private|Restrict|System|Capability|Ambient|NoNew|Lock|Device|Remove|UMask|MemoryDeny)/.test(l))
      .join('\n');
    const barePath = join(dir, 'bare', 'edgesight.service');
    spawnSync('mkdir', ['-p', join(dir, 'bare')]);
    writeFileSync(barePath, bare);
    assert.ok(exposure(barePath) > 5, 'an unhardened unit should score > 5');
  });

  it('is Type=notify, reports from the main PID, and does not restart-loop on a bad config or a bad model file', () => {
    assert.equal(one(d, 'Type'), 'notify');
    assert.equal(one(d, 'NotifyAccess'), 'main');
    assert.equal(one(d, 'Restart'), 'on-failure');
    // the CLI's EX_CONFIG and EX_NOINPUT: what a restart cannot fix
    assert.deepEqual(one(d, 'RestartPreventExitStatus').split(/\s+/).map(Number).sort(), [EX_NOINPUT, EX_CONFIG].sort());
    assert.ok(seconds(one(d, 'RestartSec')) > 0);
    assert.ok(Number(one(d, 'StartLimitBurst')) > 0 && seconds(one(d, 'StartLimitIntervalSec')) > 0);
    // "-": RestartPreventExitStatus= ignores ExecStartPre= (systemd#11868); a failing strict pre-check
    // would restart-loop up to the start limit. The daemon's own exit 78 is what stops restarts.
    assert.match(one(d, 'ExecStartPre'), /^-\/usr\/bin\/edgesight check-config --config \/etc\/edgesight\/config\.yaml$/);
    assert.deepEqual(d.get('ExecReload'), ['/usr/bin/edgesight check-config --config /etc/edgesight/config.yaml', '/bin/kill -HUP $MAINPID']);
    assert.match(one(d, 'ExecStart'), /^\/usr\/bin\/edgesight run --config \/etc\/edgesight\/config\.yaml$/);
    assert.deepEqual(d.get('After'), ['network-online.target']);
    assert.deepEqual(d.get('Wants'), ['network-online.target']);
  });

  it('orders its timeouts: stall < backoff cap < stall + cap < WatchdogSec; stop outlasts a stalled run', () => {
    const inference = buildSchema().properties?.inference as JsonSchema;
    const stall = (inference.properties?.stall_timeout_s as JsonSchema | undefined)?.default;
    assert.equal(typeof stall, 'number');
    const stallS = stall as number;
    const watchdog = seconds(one(d, 'WatchdogSec'));
    assert.ok(stallS < WORKER_BACKOFF_CAP_S);
    assert.ok(
      stallS + WORKER_BACKOFF_CAP_S < watchdog,
      `WatchdogSec ${watchdog} must leave room for stall ${stallS} s + backoff ${WORKER_BACKOFF_CAP_S} s + reload`,
    );
    assert.ok(seconds(one(d, 'TimeoutStopSec')) > stallS);
    assert.ok(seconds(one(d, 'TimeoutStartSec')) > 0);
  });

  it('runs sandboxed as its own user, with only the camera devices and the syscalls pinning needs', () => {
    assert.equal(one(d, 'User'), 'edgesight');
    assert.equal(one(d, 'SupplementaryGroups'), 'video');
    assert.equal(one(d, 'CacheDirectory'), 'edgesight');
    assert.equal(one(d, 'StateDirectory'), 'edgesight');
    assert.equal(one(d, 'UMask'), '0077');
    for (const k of [
      'NoNewPrivileges',
      'ProtectHome',
      'PrivateTmp',
      'ProtectKernelTunables',
      'ProtectKernelModules',
      'ProtectKernelLogs',
      'ProtectControlGroups',
      'ProtectClock',
      'ProtectHostname',
      'RestrictNamespaces',
      'RestrictRealtime',
      'LockPersonality',
    ]) {
      assert.equal(one(d, k), 'yes', k);
    }
    assert.equal(one(d, 'ProtectSystem'), 'strict');
    assert.equal(one(d, 'RestrictAddressFamilies'), 'AF_UNIX AF_INET AF_INET6');
    assert.equal(one(d, 'SystemCallArchitectures'), 'native');
    const filters = d.get('SystemCallFilter') ?? [];
    assert.ok(filters.includes('@system-service'));
    assert.ok(filters.some((f) => f.split(/\s+/).includes('sched_setaffinity')));
    assert.equal(one(d, 'DevicePolicy'), 'closed');
    assert.deepEqual(d.get('DeviceAllow'), ['char-video4linux rw', 'char-media rw', 'char-dma_heap rw']);
    assert.equal(one(d, 'MemoryDenyWriteExecute'), 'no', 'V8 needs W+X memory');
    assert.ok(d.get('ProcSubset') === undefined, 'ONNX Runtime reads /proc/cpuinfo');
  });

  it('allows sched_setaffinity under its syscall filter (expanded with systemd-analyze syscall-filter)', () => {
    const expand = (group: string, seen = new Set<string>()): Set<string> => {
      const r = systemdAnalyze(['syscall-filter', '--no-pager', group]);
      assert.equal(r.code, 0, `${group}: ${r.stderr}`);
      const calls = new Set<string>();
      for (const line of r.stdout.split('\n').slice(1)) {
        const name = line.trim();
        if (!name || name.startsWith('#')) continue;
        if (!name.startsWith('@')) calls.add(name);
        else if (!seen.has(name)) {
          seen.add(name);
          for (const c of expand(name, seen)) calls.add(c);
        }
      }
      return calls;
    };
    const filters = d.get('SystemCallFilter') ?? [];
    const allowed = new Set<string>();
    const denied = new Set<string>();
    for (const f of filters) {
      const deny = f.startsWith('~');
      for (const item of (deny ? f.slice(1) : f).split(/\s+/)) {
        for (const c of item.startsWith('@') ? expand(item) : [item]) (deny ? denied : allowed).add(c);
      }
    }
    assert.ok(allowed.size > 100, `@system-service expanded to only ${allowed.size} calls`);
    for (const c of ['sched_setaffinity', 'sched_getaffinity']) {
      assert.ok(allowed.has(c), `${c} not allowed`);
      assert.ok(!denied.has(c), `${c} denied by a ~ line`);
    }
    assert.ok(denied.has('mount') && denied.has('ptrace'), 'the ~@mount/~@debug lines were not expanded');
  });
});
