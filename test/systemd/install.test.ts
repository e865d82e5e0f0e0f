import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CONFIG_PATH,
  installService,
  quoteForUnit,
  renderUnit,
  serviceCommand,
  uninstallService,
  UNIT_PATH,
  type CommandResult,
  type CommandRunner,
} from '../../src/systemd/install.js';

const UNIT_SOURCE = fileURLToPath(new URL('../../../systemd/edgesight.service', import.meta.url));

/** Records every command; answers getent from a small fake user database, everything else succeeds. */
function fakeSystem(opts: { userExists?: boolean; failing?: string } = {}): { run: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  const run: CommandRunner = async (cmd, args): Promise<CommandResult> => {
    const line = [cmd, ...args].join(' ');
    calls.push(line);
    if (line === 'getent passwd edgesight') return { code: opts.userExists ? 0 : 2, stdout: '', stderr: '' };
    if (opts.failing && line.startsWith(opts.failing)) return { code: 1, stdout: '', stderr: `${cmd}: simulated failure` };
    return { code: 0, stdout: '', stderr: '' };
  };
  return { run, calls };
}

describe('edgesight service install / uninstall', function () {
  this.timeout(30000);
  let dir: string;
  let root: string;
  let main: string;
  let template: string;
  const lines: string[] = [];
  const out = (l: string): void => void lines.push(l);
  const node = realpathSync(process.execPath);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgesight-install-'));
    root = join(dir, 'root');
    mkdirSync(root);
    main = join(dir, 'lib', 'edgesight', 'dist', 'src', 'cli', 'main.js');
    mkdirSync(join(main, '..'), { recursive: true });
    writeFileSync(main, '#!/usr/bin/env node\n');
    chmodSync(main, 0o755);
    template = join(dir, 'edgesight.yaml');
    writeFileSync(template, 'device: { id: pi }\n');
    lines.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const install = (run: CommandRunner, dryRun = false) =>
    installService({ dryRun, prefix: root, run, out, unitSource: UNIT_SOURCE, configTemplate: template, execStart: [node, main] });

  it('creates the user, the config (mode 640) and the rendered unit, then reloads systemd, in that order', async () => {
    const sys = fakeSystem();
    await install(sys.run);
    assert.deepEqual(sys.calls, [
      'getent group video',
      'getent passwd edgesight',
      'useradd --system --user-group --home-dir /var/lib/edgesight --no-create-home --shell /usr/sbin/nologin --comment edgesight daemon edgesight',
      `chown root:edgesight ${join(root, '/etc/edgesight')}`,
      `chown root:edgesight ${join(root, CONFIG_PATH)}`,
      `chown edgesight:edgesight ${join(root, '/var/cache/edgesight')}`,
      `chown edgesight:edgesight ${join(root, '/var/lib/edgesight')}`,
      'systemctl daemon-reload',
      `runuser -u edgesight -- env CACHE_DIRECTORY=${join(root, '/var/cache/edgesight')} ${node} ${main} models prepare --config ${join(root, CONFIG_PATH)}`,
    ]);
    assert.ok(
      lines.some((l) => /^ {2}took \d+\.\d s/.test(l)),
      `prints how long preparing the models took:\n${lines.join('\n')}`,
    );
    assert.ok(statSync(join(root, '/var/cache/edgesight')).isDirectory());
    const unit = readFileSync(join(root, UNIT_PATH), 'utf8');
    assert.equal(unit, renderUnit(readFileSync(UNIT_SOURCE, 'utf8'), [node, main]));
    assert.match(unit, new RegExp(`^ExecStart=${node} ${main} run --config /etc/edgesight/config.yaml$`, 'm'));
    assert.match(unit, new RegExp(`^ExecStartPre=-${node} ${main} check-config --config /etc/edgesight/config.yaml$`, 'm'));
    assert.match(unit, new RegExp(`^ExecReload=${node} ${main} check-config --config /etc/edgesight/config.yaml$`, 'm'));
    assert.doesNotMatch(unit, /^Exec.*\/usr\/bin\/edgesight/m);
    assert.match(unit, /^# Written by `edgesight service install`/);
    assert.equal(statSync(join(root, UNIT_PATH)).mode & 0o777, 0o644);
    assert.equal(readFileSync(join(root, CONFIG_PATH), 'utf8'), 'device: { id: pi }\n');
    assert.equal(statSync(join(root, CONFIG_PATH)).mode & 0o777, 0o640);
    assert.equal(statSync(join(root, '/etc/edgesight')).mode & 0o777, 0o750);
    assert.ok(
      lines.some((l) => l.includes('systemctl enable --now edgesight.service')),
      'prints next steps',
    );
    // The installed unit is what systemd would load: verify it.
    const v = spawnSync('systemd-analyze', ['verify', '--man=no', join(root, UNIT_PATH)], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
  });

  it('upgrades: keeps an edited config and the existing user, rewrites the unit', async () => {
    await install(fakeSystem().run);
    writeFileSync(join(root, CONFIG_PATH), 'device: { id: edited }\n');
    writeFileSync(join(root, UNIT_PATH), 'stale');
    const sys = fakeSystem({ userExists: true });
    await install(sys.run);
    assert.equal(readFileSync(join(root, CONFIG_PATH), 'utf8'), 'device: { id: edited }\n');
    assert.ok(!sys.calls.some((c) => c.startsWith('useradd')));
    assert.ok(!sys.calls.includes(`chown root:edgesight ${join(root, CONFIG_PATH)}`));
    assert.notEqual(readFileSync(join(root, UNIT_PATH), 'utf8'), 'stale');
    assert.ok(lines.some((l) => l.includes('unit updated (upgrade)')));
    assert.ok(lines.some((l) => l.includes(`${CONFIG_PATH} exists; left as it is`)));
  });

  it('--dry-run only reads: nothing written, only getent run; prints the actions and the rendered unit', async () => {
    const sys = fakeSystem();
    const actions = await install(sys.run, true);
    assert.deepEqual(readdirSync(root), []);
    assert.deepEqual(sys.calls, ['getent group video', 'getent passwd edgesight']);
    assert.ok(actions.some((a) => a.kind === 'run' && a.argv[0] === 'useradd'));
    assert.ok(lines.some((l) => l.startsWith('would run: useradd --system')));
    assert.ok(lines.some((l) => l.startsWith(`would write ${UNIT_PATH}`)));
    assert.ok(lines.includes('Type=notify'));
    assert.ok(lines.includes(`ExecStart=${node} ${main} run --config /etc/edgesight/config.yaml`));
  });

  it('stops at the first failing command and names it', async () => {
    await assert.rejects(
      install(fakeSystem({ failing: 'systemctl daemon-reload' }).run),
      /systemctl daemon-reload failed \(exit 1\): systemctl: simulated failure/,
    );
  });

  it('refuses an ExecStart the unit could not run', async () => {
    const sys = fakeSystem();
    const run = (execStart: string[]) =>
      installService({ dryRun: true, prefix: root, run: sys.run, out, unitSource: UNIT_SOURCE, configTemplate: template, execStart });
    await assert.rejects(run(['node', main]), /ExecStart path "node" must be absolute/);
    await assert.rejects(run([join(dir, 'nope'), main]), /ExecStart path .*nope does not exist/);
    await assert.rejects(
      run([node, template]).then(() => run([template, main])),
      /ExecStart program .*edgesight\.yaml is not executable/,
    );
    mkdirSync(join(root, 'home'), { recursive: true });
    await assert.rejects(run([node, '/home']), /under a home directory, which the unit hides \(ProtectHome=yes\)/);
    await assert.rejects(
      installService({
        dryRun: true,
        prefix: root,
        run: sys.run,
        out,
        unitSource: join(dir, 'missing.service'),
        configTemplate: template,
        execStart: [node, main],
      }),
      /cannot read unit template .*missing\.service/,
    );
  });

  it('will not touch the real system from a prefix without an injected runner', async () => {
    await assert.rejects(
      installService({ dryRun: false, prefix: root, out, unitSource: UNIT_SOURCE, configTemplate: template, execStart: [node, main] }),
      /prefix \(fake root\) needs an injected command runner/,
    );
  });

  it('uninstall disables and removes the unit, tolerating a unit that is not loaded, and keeps config and data', async () => {
    await install(fakeSystem().run);
    const sys = fakeSystem({ failing: 'systemctl disable' });
    await uninstallService({ dryRun: false, prefix: root, run: sys.run, out });
    assert.deepEqual(sys.calls, ['systemctl disable --now edgesight.service', 'systemctl daemon-reload', 'systemctl reset-failed edgesight.service']);
    assert.ok(!existsSync(join(root, UNIT_PATH)));
    assert.ok(existsSync(join(root, CONFIG_PATH)));
    assert.ok(lines.some((l) => l.includes('(ignored: systemctl disable --now edgesight.service failed')));
  });

  it('quotes paths for systemd and insists on one ExecStart to rewrite', () => {
    assert.equal(quoteForUnit('/opt/node 20/bin/node'), '"/opt/node 20/bin/node"');
    assert.equal(quoteForUnit('/opt/100%/x$y'), '/opt/100%%/x$$y');
    assert.equal(quoteForUnit('/a"b'), '"/a\\"b"');
    assert.match(
      renderUnit('[Service]\nExecStart=/usr/bin/edgesight run\n', ['/opt/my node/node', '/x.js']),
      /^ExecStart="\/opt\/my node\/node" \/x\.js run$/m,
    );
    assert.throws(() => renderUnit('[Service]\nExecStart=/bin/true\n', ['/n']), /exactly one "ExecStart=\/usr\/bin\/edgesight …" line, found 0/);
  });

  it('serviceCommand refuses to install as a non-root user and says to use sudo', function () {
    if (process.getuid?.() !== 0) this.skip(); // needs root to drop to nobody; CI runs as root
    const mod = fileURLToPath(new URL('../../src/systemd/install.js', import.meta.url));
    if (spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(mod)})`], { uid: 65534, gid: 65534 }).status !== 0) {
      console.log(`      skipped: user nobody cannot read ${mod} (a folder above it is private to root)`);
      this.skip();
    }
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { serviceCommand } from ${JSON.stringify(new URL('../../src/systemd/install.js', import.meta.url).href)};
       process.exitCode = await serviceCommand(['uninstall']);`,
      ],
      { uid: 65534, gid: 65534, encoding: 'utf8' },
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /edgesight service uninstall: must run as root: use sudo/);
  });

  it("serviceCommand install --dry-run works on this machine with the package's own unit, config and CLI", function () {
    const pkg = fileURLToPath(new URL('../../../', import.meta.url));
    const missing = ['dist/src/cli/main.js', 'config/edgesight.yaml'].filter((f) => !existsSync(join(pkg, f)));
    if (missing.length) {
      console.log(`      skipped: ${missing.join(', ')} not in the package yet`);
      this.skip();
    }
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { serviceCommand } from ${JSON.stringify(new URL('../../src/systemd/install.js', import.meta.url).href)};
       process.exitCode = await serviceCommand(['install', '--dry-run']);`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^would write \/etc\/systemd\/system\/edgesight\.service/m);
    const unit = /--- \/etc\/systemd\/system\/edgesight\.service \(rendered\) ---\n([\s\S]*?)\n---\n/.exec(r.stdout)?.[1];
    assert.ok(unit, r.stdout);
    assert.match(unit, new RegExp(`^ExecStart=${realpathSync(process.execPath)} ${realpathSync(join(pkg, 'dist/src/cli/main.js'))} run `, 'm'));
    const unitPath = join(dir, 'edgesight.service');
    writeFileSync(unitPath, unit);
    const v = spawnSync('systemd-analyze', ['verify', '--man=no', unitPath], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stderr);
  });

  it('serviceCommand: usage errors exit 64, --help exits 0', async () => {
    assert.equal(await serviceCommand(['frobnicate']), 64);
    assert.equal(await serviceCommand([]), 64);
    assert.equal(await serviceCommand(['install', '--force']), 64);
    assert.equal(await serviceCommand(['--help']), 0);
  });
});
