// Reads what mosquitto_sub -v collected from a short `edgesight run` (lines "<topic> <payload>").
//
//   node run-check.mjs idle <sub file> <frames>   exit 0 once the latest stats show every one of
//                                                 <frames> captured frames processed, skipped or rejected
//   node run-check.mjs report <sub file> <frames> prints the ok/FAIL line for run.sh
import { readFileSync } from 'node:fs';

const [mode, file, framesArg] = process.argv.slice(2);
const frames = Number(framesArg);
if (!['idle', 'report'].includes(mode) || !file || !Number.isInteger(frames)) {
  throw new Error('usage: node run-check.mjs idle|report <sub file> <frames>');
}
const msgs = readFileSync(file, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => {
    const i = l.indexOf(' ');
    return { topic: l.slice(0, i), payload: l.slice(i + 1) };
  });
const leaf = (m) => m.topic.split('/').pop();
const json = (m) => {
  try {
    return JSON.parse(m.payload);
  } catch {
    return null;
  }
};
const stats = msgs
  .filter((m) => leaf(m) === 'stats')
  .map(json)
  .filter(Boolean);
const last = stats.at(-1);
const settled = (s) =>
  s &&
  s.frames_captured_total === frames &&
  s.frames_processed_total + s.frames_skipped_total + s.frames_corrupt_total + s.inference_errors_total === frames;

if (mode === 'idle') {
  process.exitCode = settled(last) ? 0 : 1;
} else {
  const det = msgs.filter((m) => leaf(m) === 'detections').map(json);
  const masks = msgs.filter((m) => leaf(m) === 'mask');
  const avail = msgs.filter((m) => leaf(m) === 'availability').map((m) => m.payload);
  const problems = [];
  if (!settled(last)) problems.push(`stats never accounted for all ${frames} frames (last: ${JSON.stringify(last ?? null)})`);
  if (!det.length) problems.push('no detections message');
  const noPerson = det.filter((d) => !d?.objects?.some((o) => o.label === 'person')).length;
  if (noPerson) problems.push(`${noPerson} detections messages without a person`);
  if (last && det.length !== last.frames_processed_total)
    problems.push(`${det.length} detections messages for ${last.frames_processed_total} processed frames`);
  if (last?.inference_errors_total || last?.worker_restarts_total)
    problems.push(`inference errors ${last.inference_errors_total}, worker restarts ${last.worker_restarts_total}`);
  if (last?.segmentations_total && !masks.length) problems.push(`${last.segmentations_total} segmentations but no mask message`);
  if (avail[0] !== 'online' || avail.at(-1) !== 'offline') problems.push(`availability sequence ${JSON.stringify(avail)}, want online … offline`);
  const what =
    `${det.length} frames processed (${last?.frames_skipped_total ?? '?'} skipped as busy), ` +
    `${masks.length} masks, availability ${avail.join('→')}`;
  process.stdout.write(problems.length ? `FAIL ${what}: ${problems.join('; ')}\n` : `ok ${what}\n`);
  process.exitCode = problems.length ? 1 : 0;
}
