import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, schemaJson, validatePayload } from '../helpers/schema.js';
import { TOPIC_POLICY, type TopicKind } from '../../src/mqtt/topics.js';

type Published = Exclude<TopicKind, 'snapshot_get'>;

/** Topic cell of the table in docs/mqtt-api.md → kind: `availability`, `<camera>/objects/<label>`, `<camera>/snapshot/get`, … */
function kindOfCell(cell: string): TopicKind | null {
  const t = cell.replace(/`/g, '').trim();
  if (t === '<camera>/snapshot/get') return 'snapshot_get';
  if (t.startsWith('<camera>/objects/')) return 'objects';
  if (/^<camera>\/zones\/<zone>\/occupied$/.test(t)) return 'zone_occupied';
  if (/^<camera>\/zones\/<zone>\/coverage\/<class>$/.test(t)) return 'zone_coverage';
  if (/^<camera>\/zones\/<zone>\/<label>$/.test(t)) return 'zone_count';
  if (/^<camera>\/lines\/<line>\/in$/.test(t)) return 'line_count';
  const leaf = t.replace(/^<camera>\//, '');
  return leaf in TOPIC_POLICY ? (leaf as TopicKind) : null;
}

function mqttSection(): string {
  // EDGESIGHT_MQTT_DOC lets a draft of the page be checked before it goes into docs/
  const file = process.env.EDGESIGHT_MQTT_DOC ?? path.join(REPO_ROOT, 'docs', 'mqtt-api.md');
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('## MQTT topics and payloads');
  assert.ok(start >= 0, `${file} has no "## MQTT topics and payloads" section`);
  const end = text.indexOf('\n## ', start + 3);
  return text.slice(start, end < 0 ? undefined : end);
}

/**
 * The topic reference in docs/mqtt-api.md is checked against the contract's sources of truth: the per-topic policy
 * (retained, QoS) in src/mqtt/topics.ts and the JSON Schemas, whose descriptions state the same. The e2e
 * tests check the running daemon against the same policy, so the three cannot drift apart silently.
 */
describe('MQTT reference: docs/mqtt-api.md table ↔ TOPIC_POLICY ↔ schema descriptions', () => {
  it('the docs/mqtt-api.md table has one row per topic with the retained flag and QoS of TOPIC_POLICY', () => {
    const rows = mqttSection()
      .split('\n')
      .filter((l) => l.startsWith('| `'))
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      );
    const seen = new Set<TopicKind>();
    for (const [topic, retained, qos] of rows as Array<[string, string, string]>) {
      const kind = kindOfCell(topic);
      assert.ok(kind, `docs/mqtt-api.md row ${topic} is not a topic of the contract`);
      assert.ok(!seen.has(kind), `docs/mqtt-api.md lists ${kind} twice`);
      seen.add(kind);
      if (kind === 'snapshot_get') continue;
      const p = TOPIC_POLICY[kind];
      assert.equal(retained, p.retain ? 'yes' : 'no', `docs/mqtt-api.md says ${topic} retained=${retained}, TOPIC_POLICY says ${p.retain}`);
      const m = /^`qos\.(state|stream)`(?: \((\d)\))?$/.exec(qos);
      assert.ok(m, `docs/mqtt-api.md QoS cell of ${topic} is not \`qos.state\`/\`qos.stream\` (n): ${qos}`);
      const defaultQos = m[1] === 'state' ? 1 : 0;
      assert.equal(defaultQos, p.qos, `docs/mqtt-api.md says ${topic} goes at qos.${m[1]} (default ${defaultQos}), TOPIC_POLICY says QoS ${p.qos}`);
      if (m[2] !== undefined) assert.equal(Number(m[2]), p.qos, `docs/mqtt-api.md QoS number of ${topic}`);
    }
    assert.deepEqual([...seen].sort(), [...Object.keys(TOPIC_POLICY), 'snapshot_get'].sort(), 'docs/mqtt-api.md table does not list every topic');
  });

  it('every schema description states the retained flag and QoS of TOPIC_POLICY', () => {
    for (const kind of Object.keys(TOPIC_POLICY) as Published[]) {
      const d = String(schemaJson(kind).description ?? '');
      const p = TOPIC_POLICY[kind];
      const notRetained = /\bnot retained\b/i.test(d);
      const retained = !notRetained && /\bretained\b/i.test(d);
      assert.ok(notRetained || retained, `${kind}.schema.json does not say whether it is retained`);
      assert.equal(retained, p.retain, `${kind}.schema.json says ${retained ? '' : 'not '}retained, TOPIC_POLICY says retain=${p.retain}`);
      const q = /\bQoS (\d)\b/.exec(d);
      assert.ok(q, `${kind}.schema.json does not state its QoS`);
      assert.equal(Number(q[1]), p.qos, `${kind}.schema.json says QoS ${q[1]}, TOPIC_POLICY says ${p.qos}`);
    }
  });

  it('the complete JSON examples in the section validate against their schemas', () => {
    const blocks = [...mqttSection().matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1]!);
    let checked = 0;
    for (const b of blocks) {
      if (b.includes('…')) continue; // abridged on purpose (long class lists, hashes, base64)
      const v = JSON.parse(b) as Record<string, unknown>;
      const kind: TopicKind =
        'type' in v && 'label' in v ? 'events' : 'objects' in v ? 'detections' : 'encoding' in v ? 'mask' : 'version' in v ? 'info' : 'stats';
      validatePayload(kind, v);
      checked++;
    }
    assert.ok(checked >= 2, `only ${checked} complete JSON examples in the MQTT section`);
  });
});
