import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const script = (name: string): string => path.resolve('.ci/arm64', name);

/** A plugin log as the arm64 child writes it: a mark line, then the plugin's running total. */
function log(counts: Record<string, [number, number, number]>, info?: object): string {
  const lines: string[] = info ? [`@@INFO ${JSON.stringify(info)}`] : [];
  for (const [name, [frames, start, end]] of Object.entries(counts)) {
    lines.push(`@@MARK ${name}|start|${frames}`, `INSN ${start}`, `@@MARK ${name}|end|${frames}`, `INSN ${end}`);
  }
  return lines.join('\n') + '\n';
}

// The ARM summary lines of `npm run bench:arm64` are read from the run names insn-pipeline.mjs writes:
// a renamed run would silently turn a line into `missing`, so the two scripts are checked together here
// (the counts themselves need qemu and are not part of the test suite).
describe('bench:arm64 summary lines: insn-pipeline.mjs report → insn-lines.mjs', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'edgesight-arm64-lines-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the raw and mjpeg pipeline lines with per-frame counts and the ratio to the bare detector', async () => {
    await writeFile(
      path.join(dir, 'a76.log'),
      log(
        {
          'engine detector int8': [10, 1e9, 1e9 + 10 * 52e6],
          'pipeline detection only': [20, 2e9, 2e9 + 20 * 70e6],
          'pipeline raw yuv420 detection only': [20, 4e9, 4e9 + 20 * 57.5e6],
          'idle per second': [15, 6e9, 6e9 + 15 * 0.2e6],
        },
        { detector: 'int8-u8.onnx', segmenter: null, detector_act: 'uint8', segmenter_act: null },
      ),
    );
    // the bare figure is the detector the pipeline loaded (here the uint8-activation one), not the other
    const insn = {
      perCpu: {
        'cortex-a76': { 'detector int8, uint8 act (ours)': { perInference: 50e6 }, 'detector int8, int8 act (ours)': { perInference: 60e6 } },
      },
    };
    await writeFile(path.join(dir, 'insn.json'), JSON.stringify(insn));
    await run(process.execPath, [script('insn-pipeline.mjs'), '--report', path.join(dir, 'p.json'), 'cortex-a76=' + path.join(dir, 'a76.log')]);
    const p = JSON.parse(await readFile(path.join(dir, 'p.json'), 'utf8'));
    assert.equal(p.perCpu['cortex-a76'].runs['idle per second'].perFrame, 0.2e6);
    const { stdout } = await run(process.execPath, [
      script('insn-lines.mjs'),
      '--insn',
      path.join(dir, 'insn.json'),
      '--xnnpack-missing',
      'not measured in this test',
      '--pipeline',
      path.join(dir, 'p.json'),
    ]);
    const lines = stdout.trim().split('\n');
    assert.ok(lines.includes('insn cortex-a76 pipeline raw per_frame=57.50 bare=50.00 ratio=1.150'), stdout);
    assert.ok(lines.includes('insn cortex-a76 pipeline mjpeg per_frame=70.00 bare=50.00 ratio=1.400'), stdout);
  });

  it('says missing, naming the run, when the pipeline report has no raw-camera run', async () => {
    await writeFile(path.join(dir, 'old.log'), log({ 'pipeline detection only': [20, 0, 20 * 70e6] }));
    await writeFile(
      path.join(dir, 'insn.json'),
      JSON.stringify({ perCpu: { 'cortex-a72': { 'detector int8, int8 act (ours)': { perInference: 80e6 } } } }),
    );
    await run(process.execPath, [script('insn-pipeline.mjs'), '--report', path.join(dir, 'old.json'), 'cortex-a72=' + path.join(dir, 'old.log')]);
    const { stdout } = await run(process.execPath, [
      script('insn-lines.mjs'),
      '--insn',
      path.join(dir, 'insn.json'),
      '--pipeline',
      path.join(dir, 'old.json'),
    ]);
    assert.match(stdout, /^insn cortex-a72 pipeline raw per_frame=missing bare=80\.00 ratio=missing \(no 'pipeline raw yuv420 detection only' run/m);
    assert.match(stdout, /^insn cortex-a72 pipeline mjpeg per_frame=70\.00 bare=80\.00 ratio=0\.875$/m);
  });

  it('docs/arm-performance.md shows the lines in the format the script prints', async () => {
    const doc = await readFile('docs/arm-performance.md', 'utf8');
    assert.match(doc, /insn <cpu> pipeline <raw\\?\|mjpeg> per_frame=<M> bare=<M> ratio=<r>/);
    assert.match(doc, /insn cortex-a76 pipeline raw per_frame=\d+\.\d\d bare=\d+\.\d\d ratio=\d\.\d{3}/);
  });
});
