import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { closest, labelProblems, LABEL_KEYS, type ModelVocabulary } from '../../src/config/label-checks.js';
import type { Config } from '../../src/config/types.js';
import { configuredVocabulary } from '../../src/models/vocabulary.js';
import { CLI_LOAD_OPTIONS } from '../../src/cli/common.js';

const load = (yaml: string, env: NodeJS.ProcessEnv = {}): ReturnType<typeof parseConfigText> =>
  parseConfigText(yaml, '/etc/edgesight/config.yaml', { ...CLI_LOAD_OPTIONS, env, hostname: 'h' });

function problems(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    load(yaml, env);
  } catch (e) {
    if (e instanceof ConfigError) return e.format().split('\n');
    throw e;
  }
  return [];
}

describe('config: label and class names against the configured models', () => {
  it('the default detector: track and filters are checked, with the line and a suggestion', () => {
    const p = problems('objects:\n  track: [person, persn, Car]\n  filters:\n    dgo:\n      min_score: 0.5\n    cat: { min_score: 0.3 }\n');
    assert.deepEqual(p, [
      "/etc/edgesight/config.yaml:2: objects.track.1: 'persn' is not a label of the detector 'ssdlite_mobilenet_v3_small_coco'; did you mean 'person'? (valid: person, bicycle, car, motorcycle, airplane, bus, train, truck, boat, traffic light, fire hydrant, stop sign, … 80 in all; edgesight models info shows them)",
      "/etc/edgesight/config.yaml:2: objects.track.2: 'Car' is not a label of the detector 'ssdlite_mobilenet_v3_small_coco'; did you mean 'car'? (valid: person, bicycle, car, motorcycle, airplane, bus, train, truck, boat, traffic light, fire hydrant, stop sign, … 80 in all; edgesight models info shows them)",
      "/etc/edgesight/config.yaml:4: objects.filters.dgo: 'dgo' is not a label of the detector 'ssdlite_mobilenet_v3_small_coco'; did you mean 'dog'? (valid: person, bicycle, car, motorcycle, airplane, bus, train, truck, boat, traffic light, fire hydrant, stop sign, … 80 in all; edgesight models info shows them)",
    ]);
  });

  it('valid names pass; the background class and COCO placeholders are not labels', () => {
    assert.deepEqual(problems('objects:\n  track: [person, traffic light, dog]\n'), []);
    assert.match(problems('objects:\n  track: [background]\n')[0]!, /'background' is not a label/);
    assert.match(problems('objects:\n  track: [n/a]\n')[0]!, /'n\/a' is not a label/);
    assert.doesNotMatch(problems('objects:\n  track: [zebraa]\n')[0]!, /did you mean 'n\/a'/);
  });

  it('no suggestion when nothing is near', () => {
    const [p] = problems('objects:\n  track: [spaceship]\n');
    assert.match(p!, /'spaceship' is not a label of the detector/);
    assert.doesNotMatch(p!, /did you mean/);
  });

  it('a value from the environment names the variable', () => {
    const [p] = problems('', { EDGESIGHT__OBJECTS__TRACK: 'person,prson' });
    assert.match(p!, /^env EDGESIGHT__OBJECTS__TRACK: objects\.track\.1: 'prson' .*did you mean 'person'\?/);
  });

  it('labels come from the manifest when the detector is a manifest path; defaults the user did not write are not checked', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edgesight-labels-'));
    try {
      writeFileSync(path.join(dir, 'm.json'), JSON.stringify({ labels: ['background', 'hedgehog', 'fox'], detection: { background_class: 0 } }));
      const cfg = path.join(dir, 'c.yaml');
      const base = `models:\n  detector: ./m.json\n  segmenter: null\n`;
      // the default track list (person, car, …) is COCO's: not this model's, but not the user's mistake either
      assert.doesNotThrow(() => parseConfigText(base, cfg, { ...CLI_LOAD_OPTIONS, env: {} }));
      assert.throws(
        () => parseConfigText(`${base}objects:\n  track: [hedgehog, fx]\n`, cfg, { ...CLI_LOAD_OPTIONS, env: {} }),
        (e: ConfigError) => {
          assert.match(
            e.format(),
            /c\.yaml:5: objects\.track\.1: 'fx' is not a label of the detector '\.\/m\.json'; did you mean 'fox'\? \(valid: hedgehog, fox\)/,
          );
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without the models layer (no vocabulary) nothing is checked: the config layer reads no models', () => {
    assert.doesNotThrow(() => parseConfigText('objects:\n  track: [persn]\n', null, { env: {} }));
  });

  it('the list of label-keyed keys is data: a new key with a wildcard path is checked by adding one entry', () => {
    const c = {
      objects: { track: ['person'], filters: {} },
      areas: { door: { labels: ['persn'], classes: ['persn'] }, yard: { labels: ['dog'] } },
    } as unknown as Config;
    const vocab: ModelVocabulary = {
      detector: { model: "'d'", labels: ['person', 'dog'] },
      segmenter: { model: "'s'", labels: ['background', 'person'] },
    };
    const keys = [
      ...LABEL_KEYS,
      { path: 'areas.*.labels', at: 'values', vocabulary: 'detector' } as const,
      { path: 'areas.*.classes', at: 'values', vocabulary: 'segmenter' } as const,
    ];
    assert.deepEqual(
      labelProblems(c, vocab, () => true, keys).map((p) => `${p.path}: ${p.message}`),
      [
        "areas.door.labels.0: 'persn' is not a label of the detector 'd'; did you mean 'person'? (valid: person, dog)",
        "areas.door.classes.0: 'persn' is not a class of the segmenter 's'; did you mean 'person'? (valid: background, person)",
      ],
    );
    // segmentation classes named while no segmenter is configured
    const none = labelProblems(c, { ...vocab, segmenter: null, noSegmenter: true }, () => true, keys);
    assert.deepEqual(
      none.map((p) => p.path),
      ['areas.door.labels.0', 'areas.door.classes'],
    );
    assert.match(none[1]!.message, /no segmenter is configured \(models\.segmenter is null\)/);
  });

  it("the configured vocabulary: catalog labels files for catalog names, the segmenter's VOC classes", () => {
    const c = load('').config;
    const v = configuredVocabulary(c, process.cwd(), { XDG_CACHE_HOME: path.join(tmpdir(), 'edgesight-no-cache-here') });
    assert.equal(v.detector!.labels.length, 90); // 91 ids incl. "n/a" placeholders, minus the background
    assert.ok(!v.detector!.labels.includes('background'));
    assert.ok(v.segmenter!.labels.includes('person') && v.segmenter!.labels.includes('background'));
  });

  it('closest: typos, swapped letters and case; nothing for far-off names', () => {
    assert.equal(closest('persn', ['person', 'bicycle']), 'person');
    assert.equal(closest('preson', ['person', 'bicycle']), 'person');
    assert.equal(closest('DOG', ['dog', 'cat']), 'dog');
    assert.equal(closest('aeroplane', ['airplane', 'car']), 'airplane');
    assert.equal(closest('xyz', ['dog', 'cat']), null);
  });
});
