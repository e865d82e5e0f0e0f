import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BoardMonitor, decodeThrottled, parseThrottled } from '../../src/metrics/board.js';

async function put(root: string, rel: string, text: string): Promise<void> {
  const file = path.join(root, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}

async function script(dir: string, name: string, body: string): Promise<void> {
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
}

describe('metrics/board', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'edgesight-board-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('decodes every throttling bit (now and since boot)', () => {
    assert.deepEqual(decodeThrottled(0x50005), {
      raw: 0x50005,
      under_voltage_now: true,
      freq_capped_now: false,
      throttled_now: true,
      soft_temp_limit_now: false,
      under_voltage_since_boot: true,
      freq_capped_since_boot: false,
      throttled_since_boot: true,
      soft_temp_limit_since_boot: false,
    });
    const all = decodeThrottled(0xf000f);
    for (const [k, v] of Object.entries(all)) if (k !== 'raw') assert.equal(v, true, k);
    for (const [k, v] of Object.entries(decodeThrottled(0))) if (k !== 'raw') assert.equal(v, false, k);
    assert.equal(decodeThrottled(1 << 3).soft_temp_limit_now, true);
    assert.equal(decodeThrottled(1 << 17).freq_capped_since_boot, true);
    assert.equal(decodeThrottled(1 << 19).soft_temp_limit_since_boot, true);
  });

  it('parses vcgencmd and sysfs spellings and rejects anything else', () => {
    assert.equal(parseThrottled('throttled=0x50005\n'), 0x50005);
    assert.equal(parseThrottled('50000\n'), 0x50000);
    assert.equal(parseThrottled('0x0'), 0);
    assert.throws(() => parseThrottled('VCHI initialization failed'), /unrecognised get_throttled output/);
    assert.throws(() => parseThrottled(''), /unrecognised/);
  });

  it('reads a Raspberry Pi style sysfs tree, preferring the cpu-thermal zone', async () => {
    await put(root, 'sys/class/thermal/thermal_zone0/type', 'some-other-sensor\n');
    await put(root, 'sys/class/thermal/thermal_zone0/temp', '30000\n');
    await put(root, 'sys/class/thermal/thermal_zone1/type', 'cpu-thermal\n');
    await put(root, 'sys/class/thermal/thermal_zone1/temp', '61234\n');
    await put(root, 'sys/devices/platform/soc/soc:firmware/get_throttled', '50000\n');
    await put(root, 'proc/loadavg', '1.25 0.80 0.40 2/345 6789\n');
    const b = await new BoardMonitor({ root, pathEnv: '' }).read();
    assert.deepEqual(b.problems, []);
    assert.equal(b.soc_temp_c, 61.2);
    assert.equal(b.thermal_zone, 'cpu-thermal');
    assert.equal(b.throttled_source, 'sysfs');
    assert.equal(b.throttled?.raw, 0x50000);
    assert.equal(b.throttled?.under_voltage_since_boot, true);
    assert.equal(b.throttled?.throttled_since_boot, true);
    assert.equal(b.throttled?.under_voltage_now, false);
    assert.deepEqual([b.load_1, b.load_5, b.load_15], [1.25, 0.8, 0.4]);
  });

  it('uses the first zone when none has a known SoC type, ordering zones numerically', async () => {
    await put(root, 'sys/class/thermal/thermal_zone10/type', 'b\n');
    await put(root, 'sys/class/thermal/thermal_zone10/temp', '70000\n');
    await put(root, 'sys/class/thermal/thermal_zone2/type', 'a\n');
    await put(root, 'sys/class/thermal/thermal_zone2/temp', '45500\n');
    await put(root, 'sys/class/thermal/cooling_device0/type', 'fan\n');
    const b = await new BoardMonitor({ root, pathEnv: '' }).read();
    assert.equal(b.soc_temp_c, 45.5);
    assert.equal(b.thermal_zone, 'a');
  });

  it('returns nulls with reasons, without throwing, on an empty root', async () => {
    const b = await new BoardMonitor({ root, pathEnv: '' }).read();
    assert.equal(b.soc_temp_c, null);
    assert.equal(b.thermal_zone, null);
    assert.equal(b.throttled, null);
    assert.equal(b.throttled_source, null);
    assert.deepEqual([b.load_1, b.load_5, b.load_15], [null, null, null]);
    assert.equal(b.problems.length, 3);
    assert.match(b.problems.join('\n'), /soc temperature: no thermal zone/);
    assert.match(b.problems.join('\n'), /throttling flags: .*get_throttled missing and vcgencmd not on PATH/);
    assert.match(b.problems.join('\n'), /load average: .*ENOENT/);
  });

  it('returns null for garbage in the files, naming the file', async () => {
    await put(root, 'sys/class/thermal/thermal_zone0/type', 'cpu-thermal\n');
    await put(root, 'sys/class/thermal/thermal_zone0/temp', 'hot\n');
    await put(root, 'proc/loadavg', 'x y\n');
    const b = await new BoardMonitor({ root, pathEnv: '' }).read();
    assert.equal(b.soc_temp_c, null);
    assert.equal(b.load_1, null);
    assert.match(b.problems.join('\n'), /thermal_zone0\/temp: expected millidegrees, got "hot"/);
    assert.match(b.problems.join('\n'), /loadavg: expected three load averages/);
  });

  it('falls back to vcgencmd on PATH when the sysfs node is missing', async () => {
    const bin = path.join(root, 'bin');
    await mkdir(bin);
    await script(bin, 'vcgencmd', '[ "$1" = get_throttled ] || exit 2\necho throttled=0x80008');
    const b = await new BoardMonitor({ root, pathEnv: bin }).read();
    assert.equal(b.throttled_source, 'vcgencmd');
    assert.equal(b.throttled?.raw, 0x80008);
    assert.equal(b.throttled?.soft_temp_limit_now, true);
    assert.equal(b.throttled?.soft_temp_limit_since_boot, true);
  });

  it('gives up on a vcgencmd that hangs (timeout) or fails, and stops spawning it', async () => {
    const bin = path.join(root, 'bin');
    await mkdir(bin);
    const marker = path.join(root, 'ran');
    await script(bin, 'vcgencmd', `echo x >> ${marker}\nexec sleep 30`);
    const mon = new BoardMonitor({ root, pathEnv: bin, vcgencmdTimeoutMs: 300 });
    const b = await mon.read();
    assert.equal(b.throttled, null);
    assert.match(b.problems.join('\n'), /vcgencmd get_throttled: timed out after 300 ms/);
    const again = await mon.read();
    assert.match(again.problems.join('\n'), /vcgencmd failed earlier/);
    const { readFile } = await import('node:fs/promises');
    assert.equal((await readFile(marker, 'utf8')).trim().split('\n').length, 1, 'vcgencmd spawned more than once');

    await script(bin, 'vcgencmd', 'echo "VCHI initialization failed" >&2\nexit 1');
    const b2 = await new BoardMonitor({ root, pathEnv: bin }).read();
    assert.equal(b2.throttled, null);
    assert.match(b2.problems.join('\n'), /VCHI initialization failed/);
  });

  it('reads this machine without throwing (whatever it has)', async () => {
    const b = await new BoardMonitor().read();
    // /proc/loadavg exists on every Linux the daemon supports
    assert.equal(typeof b.load_1, 'number');
    if (b.soc_temp_c !== null) assert.ok(b.soc_temp_c > -40 && b.soc_temp_c < 150, `implausible ${b.soc_temp_c}`);
  });
});
