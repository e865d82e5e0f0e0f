import assert from 'node:assert/strict';
import { COMMAND_SPECS, ENVIRONMENT, GROUPS } from '../../src/cli/commands.js';
import { HANDLERS } from '../../src/cli/handlers.js';
import { EX_USAGE } from '../../src/cli/exit-codes.js';
import { runCli, STACK_FRAME } from './run-cli.js';

/**
 * Every command answers --help and -h with exit 0 and lists every option it takes; an unknown option
 * exits 64 naming the command's valid options. The commands come from the one list in
 * src/cli/commands.ts, and that list must match the handlers, so a new command cannot be missed.
 */
describe('CLI help and option checking (every command)', function () {
  this.timeout(120_000);

  it('the command list and the handlers name the same commands', () => {
    assert.deepEqual(COMMAND_SPECS.map((s) => s.path).sort(), Object.keys(HANDLERS).sort());
  });

  for (const spec of COMMAND_SPECS) {
    const argv = spec.path.split(' ');
    it(`edgesight ${spec.path} --help lists every option with its default, exit 0`, async () => {
      const r = await runCli([...argv, '--help']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, new RegExp(`^Usage: edgesight ${spec.path} \\[options\\]`));
      for (const [name, o] of Object.entries(spec.options)) {
        assert.ok(r.stdout.includes(`--${name}`), `--${name} missing from:\n${r.stdout}`);
        if (o.short) assert.ok(r.stdout.includes(`-${o.short}, --${name}`), `-${o.short} missing for --${name}`);
        // commander wraps long lines: compare without the line breaks and indentation
        if (o.dflt) assert.ok(r.stdout.replace(/\s+/g, ' ').includes(`(default: ${o.dflt})`), `default of --${name} missing:\n${r.stdout}`);
      }
      const h = await runCli([...argv, '-h']);
      assert.equal(h.code, 0);
      assert.equal(h.stdout, r.stdout);
    });

    it(`edgesight ${spec.path} --no-such-option exits ${EX_USAGE} naming the valid options`, async () => {
      const r = await runCli([...argv, '--no-such-option']);
      assert.equal(r.code, EX_USAGE, r.stderr);
      assert.match(r.stderr, /unknown option '--no-such-option'/);
      for (const name of Object.keys(spec.options)) assert.ok(r.stderr.includes(`--${name}`), `--${name} not named in: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, STACK_FRAME);
    });
  }

  it('top-level help lists every command and environment variable, exit 0', async () => {
    const r = await runCli(['--help']);
    assert.equal(r.code, 0);
    for (const spec of COMMAND_SPECS) assert.ok(r.stdout.includes(spec.path.split(' ').at(-1)!), `${spec.path} missing`);
    for (const g of Object.keys(GROUPS)) assert.match(r.stdout, new RegExp(`^  ${g} <subcommand>`, 'm'));
    for (const [name] of ENVIRONMENT) assert.ok(r.stdout.includes(name), `${name} missing`);
    assert.match(r.stdout, /^Exit status:$/m);
    const bare = await runCli([]);
    assert.equal(bare.code, EX_USAGE, 'no command at all is a usage error');
    assert.equal((await runCli(['help', 'detect'])).stdout, (await runCli(['detect', '--help'])).stdout);
  });

  it('groups: `models --help` lists the subcommands (exit 0); an unknown subcommand or none exits 64', async () => {
    for (const group of Object.keys(GROUPS)) {
      const r = await runCli([group, '--help']);
      assert.equal(r.code, 0);
      for (const spec of COMMAND_SPECS.filter((s) => s.path.startsWith(`${group} `))) assert.ok(r.stdout.includes(spec.path.split(' ')[1]!));
      const bad = await runCli([group, 'frobnicate']);
      assert.equal(bad.code, EX_USAGE);
      assert.match(bad.stderr, /unknown subcommand 'frobnicate'/);
      assert.equal((await runCli([group])).code, EX_USAGE);
    }
  });

  it('an unknown command exits 64 and suggests nothing it does not have', async () => {
    const r = await runCli(['detcet']);
    assert.equal(r.code, EX_USAGE);
    assert.match(r.stderr, /unknown command 'detcet'; commands: run, check-config, detect/);
  });

  it('a typo in an option gets a suggestion; a missing value is named', async () => {
    const r = await runCli(['detect', '--jsno', 'x.jpg']);
    assert.equal(r.code, EX_USAGE);
    assert.match(r.stderr, /Did you mean --json\?/);
    const m = await runCli(['snapshot', '--out']);
    assert.equal(m.code, EX_USAGE);
    assert.match(m.stderr, /option '-o, --out <FILE\.jpg>' argument missing/);
  });

  it('models quantize --help says what auto picks: uint8 on a Cortex-A72, int8 only with dot-product', async () => {
    const r = await runCli(['models', 'quantize', '--help']);
    const text = r.stdout.replace(/\s+/g, ' ');
    assert.match(
      text,
      /auto = int8 on arm64 cores with dot-product instructions \(asimddp: Pi 5 \/ Cortex-A76\), uint8 elsewhere \(x86-64, Pi 4 \/ Cortex-A72\)/,
    );
    assert.doesNotMatch(text, /int8 on arm64 \(default/);
  });
});
