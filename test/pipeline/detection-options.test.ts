import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.js';
import { SsdDecoder } from '../../src/postprocess/detections.js';
import { detectionOptions } from '../../src/pipeline/detection-options.js';
import { detectorEntry, fixture } from '../postprocess/fixtures.js';

const cfg = (yaml: string) => parseConfigText(yaml, null, { env: {}, hostname: 'box' }).config;

describe('postprocess: detectionOptions from config', () => {
  const { spec, labels } = detectorEntry();
  const decoder = new SsdDecoder(spec, labels);
  const astronaut = fixture('astronaut');

  it('COCO labels: index 0 is background, ids are category ids (person 1, laptop 73, n/a gaps)', () => {
    assert.equal(labels.length, 91);
    assert.equal(labels[0], 'background');
    assert.equal(labels[1], 'person');
    assert.equal(labels[73], 'laptop');
    assert.equal(labels[12], 'n/a');
  });

  it('takes threshold, NMS IoU and cap from detection.*', () => {
    const o = detectionOptions(cfg('detection: {score_threshold: 0.35, nms_iou: 0.5, max_detections: 7}'), labels, false);
    assert.equal(o.scoreThreshold, 0.35);
    assert.equal(o.nmsIou, 0.5);
    assert.equal(o.maxDetections, 7);
    assert.equal(o.classes, undefined, 'every class when not tracked-only');
    assert.deepEqual(o.unknownLabels, []);
  });

  it('objects.filters.<label>.min_score becomes a per-class threshold; unknown labels are reported', () => {
    const o = detectionOptions(
      cfg('objects:\n  filters:\n    person: {min_score: 0.45}\n    cell phone: {min_score: 0.2}\n    unicorn: {min_score: 0.1}\n    car: {}\n'),
      labels,
      false,
    );
    assert.deepEqual(
      [...o.classThresholds!.entries()].sort((a, b) => a[0] - b[0]),
      [
        [1, 0.45],
        [77, 0.2],
      ],
    );
    assert.deepEqual(o.unknownLabels, ['unicorn']);
  });

  it('objects.track becomes the class set when tracked-only; "n/a" and unknown labels are not classes', () => {
    const o = detectionOptions(cfg('objects:\n  track: [person, laptop, n/a, dragon]\n'), labels, true);
    assert.deepEqual(
      [...o.classes!].sort((a, b) => a - b),
      [1, 73],
    );
    assert.deepEqual(o.unknownLabels.sort(), ['dragon', 'n/a']);
  });

  it('on the astronaut fixture: per-label thresholds and tracking change the result as configured', () => {
    const base = cfg('detection: {score_threshold: 0.3, max_detections: 100}');
    const all = decoder.decode(astronaut.scores, astronaut.boxes, detectionOptions(base, labels, false));
    assert.deepEqual(
      all.map((d) => d.label),
      astronaut.ref.objects.map((o) => o.label),
    );
    assert.deepEqual(
      all.map((d) => d.label),
      ['person', 'laptop', 'cell phone', 'traffic light', 'person'],
    );

    // person needs 0.45: the 0.31 person goes, the 0.5 one stays; laptop needs 0.395 (it scores 0.3905)
    const filtered = cfg('detection: {score_threshold: 0.3}\nobjects:\n  filters:\n    person: {min_score: 0.45}\n    laptop: {min_score: 0.395}\n');
    assert.deepEqual(
      decoder.decode(astronaut.scores, astronaut.boxes, detectionOptions(filtered, labels, false)).map((d) => d.label),
      ['person', 'cell phone', 'traffic light'],
    );

    // a filter can also lower the bar below the global threshold for one label
    const lowered = cfg('detection: {score_threshold: 0.45}\nobjects:\n  filters:\n    laptop: {min_score: 0.3}\n');
    assert.deepEqual(
      decoder.decode(astronaut.scores, astronaut.boxes, detectionOptions(lowered, labels, false)).map((d) => d.label),
      ['person', 'laptop'],
    );

    // tracked-only with the default track list: laptop, phone and traffic light are not tracked
    const tracked = decoder.decode(astronaut.scores, astronaut.boxes, detectionOptions(base, labels, true));
    assert.deepEqual(
      tracked.map((d) => d.label),
      ['person', 'person'],
    );
    const onlyLaptop = decoder.decode(
      astronaut.scores,
      astronaut.boxes,
      detectionOptions(cfg('detection: {score_threshold: 0.3}\nobjects: {track: [laptop]}'), labels, true),
    );
    assert.deepEqual(
      onlyLaptop.map((d) => d.label),
      ['laptop'],
    );
  });

  it('max_detections caps the decoded list', () => {
    const o = detectionOptions(cfg('detection: {score_threshold: 0.3, max_detections: 2}'), labels, false);
    assert.deepEqual(
      decoder.decode(astronaut.scores, astronaut.boxes, o).map((d) => d.label),
      ['person', 'laptop'],
    );
  });
});
