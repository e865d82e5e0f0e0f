import assert from 'node:assert/strict';
import { OutboundQueue, type OutboundMessage } from '../../src/mqtt/queue.js';

const m = (topic: string, payload: string, retain = false): OutboundMessage => ({ topic, payload, qos: retain ? 1 : 0, retain });

describe('mqtt/queue', () => {
  it('stream messages: bounded FIFO that drops the oldest', () => {
    const q = new OutboundQueue({ streamCapacity: 3 });
    for (let i = 0; i < 5; i++) q.push(m('d', String(i)), 'stream');
    assert.equal(q.size, 3);
    assert.deepEqual(
      q.drain().map((x) => x.payload),
      ['2', '3', '4'],
    );
    assert.equal(q.drops.stream, 2);
    assert.equal(q.dropped, 2);
    assert.equal(q.size, 0);
    assert.deepEqual(q.drain(), []);
  });

  it('latest values: one per topic, newest wins, replacements counted as superseded not dropped', () => {
    const q = new OutboundQueue({ streamCapacity: 10 });
    q.push(m('objects/person', '1', true), 'latest');
    q.push(m('objects/car', '2', true), 'latest');
    q.push(m('objects/person', '3', true), 'latest');
    assert.deepEqual(
      q.drain().map((x) => [x.topic, x.payload]),
      [
        ['objects/car', '2'],
        ['objects/person', '3'],
      ],
    );
    assert.equal(q.drops.superseded, 1);
    assert.equal(q.dropped, 0);
  });

  it('a flood of stream messages cannot push out events; events drop oldest only when their own queue is full', () => {
    const q = new OutboundQueue({ streamCapacity: 2, eventCapacity: 2 });
    q.push(m('e', 'e0'), 'event');
    for (let i = 0; i < 100; i++) q.push(m('d', `d${i}`), 'stream');
    q.push(m('e', 'e1'), 'event');
    assert.deepEqual(
      q.drain().map((x) => x.payload),
      ['e0', 'd98', 'd99', 'e1'],
    );
    assert.deepEqual(q.drops, { stream: 98, event: 0, latest: 0, superseded: 0 });
    for (let i = 0; i < 5; i++) q.push(m('e', `e${i}`), 'event');
    assert.deepEqual(
      q.drain().map((x) => x.payload),
      ['e3', 'e4'],
    );
    assert.equal(q.drops.event, 3);
  });

  it('drains state first, then events and stream messages in the order queued', () => {
    const q = new OutboundQueue({ streamCapacity: 10 });
    q.push(m('d', 'd1'), 'stream');
    q.push(m('e', 'new'), 'event');
    q.push(m('info', 'i', true), 'latest');
    q.push(m('d', 'd2'), 'stream');
    q.push(m('e', 'end'), 'event');
    q.push(m('objects/person', '0', true), 'latest');
    assert.deepEqual(
      q.drain().map((x) => x.payload),
      ['i', '0', 'd1', 'new', 'd2', 'end'],
    );
  });

  it('keeps messages intact (topic, payload bytes, qos, retain)', () => {
    const q = new OutboundQueue({ streamCapacity: 1 });
    const buf = Buffer.from([0xff, 0xd8, 0x00]);
    q.push({ topic: 'x/mask', payload: buf, qos: 0, retain: false }, 'stream');
    q.push({ topic: 'x/info', payload: '{}', qos: 1, retain: true }, 'latest');
    assert.deepEqual(q.drain(), [
      { topic: 'x/info', payload: '{}', qos: 1, retain: true },
      { topic: 'x/mask', payload: buf, qos: 0, retain: false },
    ]);
  });

  it('the latest-value map is bounded too, dropping the least recently updated topic', () => {
    const q = new OutboundQueue({ streamCapacity: 1, latestCapacity: 2 });
    q.push(m('a', '1', true), 'latest');
    q.push(m('b', '1', true), 'latest');
    q.push(m('a', '2', true), 'latest');
    q.push(m('c', '1', true), 'latest');
    assert.deepEqual(
      q.drain().map((x) => x.topic),
      ['a', 'c'],
    );
    assert.equal(q.drops.latest, 1);
  });

  it('capacity 0 queues nothing and counts every message as dropped', () => {
    const q = new OutboundQueue({ streamCapacity: 0, eventCapacity: 0 });
    q.push(m('d', '1'), 'stream');
    q.push(m('e', '1'), 'event');
    assert.equal(q.size, 0);
    assert.equal(q.dropped, 2);
  });

  it('stays bounded over a long outage', () => {
    const q = new OutboundQueue({ streamCapacity: 500, eventCapacity: 50, latestCapacity: 100 });
    for (let i = 0; i < 100_000; i++) {
      q.push(m('d', String(i)), 'stream');
      if (i % 10 === 0) q.push(m('e', String(i)), 'event');
      q.push(m(`objects/l${i % 20}`, String(i), true), 'latest');
    }
    assert.equal(q.size, 500 + 50 + 20);
    const out = q.drain();
    assert.equal(out.length, 570);
    assert.equal(out[out.length - 1]!.payload, '99999');
  });

  it('rejects bad capacities and classes', () => {
    assert.throws(() => new OutboundQueue({ streamCapacity: -1 }), /mqtt.queue_size must be an integer >= 0, got -1/);
    assert.throws(() => new OutboundQueue({ streamCapacity: 1.5 }), /mqtt.queue_size/);
    const q = new OutboundQueue({ streamCapacity: 1 });
    assert.throws(() => q.push(m('x', '1'), 'bulk' as 'stream'), /unknown queue class "bulk"/);
  });
});
