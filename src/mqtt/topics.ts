/**
 * The MQTT topic tree is the product's public contract: every topic string is built here, so ids are
 * validated once and no code path can publish to a wildcard or to an id that would split a topic level.
 */

export type TopicIdKind = 'base' | 'device' | 'camera' | 'label' | 'zone' | 'line';

/** Every topic a device publishes to, plus the one it subscribes to (`snapshot_get`). */
export type TopicKind =
  | 'availability'
  | 'info'
  | 'stats'
  | 'detections'
  | 'mask'
  | 'objects'
  | 'events'
  | 'snapshot'
  | 'snapshot_get'
  | 'zone_occupied'
  | 'zone_count'
  | 'zone_coverage'
  | 'line_count';

/**
 * How a publisher must treat each topic kind. `queue` says what happens while the broker is unreachable:
 * `latest` keeps one value per topic, `event` and `stream` are bounded drop-oldest FIFOs, `none` is not
 * queued (availability is the last will's job; a stale snapshot answers no one).
 */
export interface TopicPolicy {
  retain: boolean;
  qos: 0 | 1;
  queue: 'latest' | 'event' | 'stream' | 'none';
}

export const TOPIC_POLICY: Readonly<Record<Exclude<TopicKind, 'snapshot_get'>, TopicPolicy>> = Object.freeze({
  availability: { retain: true, qos: 1, queue: 'none' },
  info: { retain: true, qos: 1, queue: 'latest' },
  stats: { retain: false, qos: 0, queue: 'latest' },
  detections: { retain: false, qos: 0, queue: 'stream' },
  mask: { retain: false, qos: 0, queue: 'stream' },
  objects: { retain: true, qos: 1, queue: 'latest' },
  events: { retain: false, qos: 1, queue: 'event' },
  snapshot: { retain: false, qos: 0, queue: 'none' },
  zone_occupied: { retain: true, qos: 1, queue: 'latest' },
  zone_count: { retain: true, qos: 1, queue: 'latest' },
  zone_coverage: { retain: true, qos: 1, queue: 'latest' },
  line_count: { retain: true, qos: 1, queue: 'latest' },
});

/** Ids also become Home Assistant object ids and log fields; 64 characters is plenty and keeps topics short. */
export const MAX_ID_LENGTH = 64;
/** MQTT 3.1.1/5 limit for a topic name, in UTF-8 bytes. */
export const MAX_TOPIC_BYTES = 65535;

export class TopicError extends Error {
  override name = 'TopicError';
}

// Control characters and whitespace are legal in MQTT topics but make ids unusable from a shell and in
// Home Assistant entity ids; refusing them early gives a clear config error instead of a puzzled user.
// eslint-disable-next-line no-control-regex
const BAD_CHARS = /[\u0000-\u001f\u007f\s]/u;

/** Throws a TopicError naming the kind, the value and what is wrong with it; returns the value unchanged. */
export function validateTopicId(kind: TopicIdKind, value: unknown): string {
  const what = `${kind} id`;
  if (typeof value !== 'string') throw new TopicError(`${what} must be a string, got ${typeof value}`);
  if (kind === 'base') {
    // The base may span levels ("home/edgesight"), each level obeying the id rules.
    if (value.length === 0) throw new TopicError(`base topic must not be empty`);
    if (value.startsWith('/') || value.endsWith('/')) throw new TopicError(`base topic ${JSON.stringify(value)} must not start or end with "/"`);
    for (const level of value.split('/')) checkLevel(what, value, level);
    return value;
  }
  if (value.includes('/')) throw new TopicError(`${what} ${JSON.stringify(value)} must not contain "/" (it would split the topic level)`);
  checkLevel(what, value, value);
  return value;
}

function checkLevel(what: string, whole: string, level: string): void {
  const shown = JSON.stringify(whole);
  if (level.length === 0) throw new TopicError(`${what} ${shown} has an empty topic level`);
  if (level.includes('+') || level.includes('#')) throw new TopicError(`${what} ${shown} must not contain the MQTT wildcards "+" or "#"`);
  if (level.startsWith('$')) throw new TopicError(`${what} ${shown} must not start with "$" (reserved for broker topics such as $SYS)`);
  if (level.includes('\u0000')) throw new TopicError(`${what} ${shown} must not contain NUL`);
  if (BAD_CHARS.test(level)) throw new TopicError(`${what} ${shown} must not contain whitespace or control characters`);
  if (level.length > MAX_ID_LENGTH) throw new TopicError(`${what} ${shown} is longer than ${MAX_ID_LENGTH} characters`);
}

/**
 * Topic-level slug for a class label: lowercase, runs of anything but [a-z0-9] become one "_",
 * no leading/trailing "_" ("traffic light" → "traffic_light", "Potted Plant" → "potted_plant").
 */
export function labelSlug(label: string): string {
  if (typeof label !== 'string') throw new TopicError(`label must be a string, got ${typeof label}`);
  const slug = label
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (slug.length === 0) throw new TopicError(`label ${JSON.stringify(label)} has no letters or digits to make a topic slug from`);
  if (slug.length > MAX_ID_LENGTH) throw new TopicError(`label ${JSON.stringify(label)} gives a slug longer than ${MAX_ID_LENGTH} characters`);
  return slug;
}

/** Refuses what a broker would reject or treat as a filter: wildcards, NUL, empty, over-long. */
export function assertPublishable(topic: string): string {
  if (typeof topic !== 'string' || topic.length === 0) throw new TopicError(`cannot publish to an empty topic`);
  if (topic.includes('+') || topic.includes('#'))
    throw new TopicError(`cannot publish to ${JSON.stringify(topic)}: "+" and "#" are subscription wildcards`);
  if (topic.includes('\u0000')) throw new TopicError(`cannot publish to a topic containing NUL`);
  if (Buffer.byteLength(topic, 'utf8') > MAX_TOPIC_BYTES) throw new TopicError(`topic is longer than ${MAX_TOPIC_BYTES} bytes`);
  return topic;
}

export interface DeviceTopics {
  /** `<base>/<device>` */
  root: string;
  availability: string;
  info: string;
  stats: string;
  /** Subscription filter for everything this device publishes. */
  all: string;
}

export interface CameraTopics extends DeviceTopics {
  camera: string;
  detections: string;
  mask: string;
  events: string;
  snapshot: string;
  /** Subscribed to by the device: any payload asks for one snapshot. */
  snapshotGet: string;
  /** Retained count of `label` in view: `<camera>/objects/<slug>`. */
  objects(label: string): string;
  /** Subscription filter for every label count of this camera. */
  objectsFilter: string;
  /** Retained `ON`/`OFF`: `<camera>/zones/<zone>/occupied`. */
  zoneOccupied(zone: string): string;
  /** Retained count of `label` in the zone: `<camera>/zones/<zone>/<label_slug>`. */
  zoneCount(zone: string, label: string): string;
  /** Retained 0..1 share of the zone's mask cells of `cls`: `<camera>/zones/<zone>/coverage/<class>`. */
  zoneCoverage(zone: string, cls: string): string;
  /** Subscription filter for everything of one zone (to clear its retained topics when it is removed). */
  zoneFilter(zone: string): string;
  /** Retained crossing total: `<camera>/lines/<line>/in|out`. */
  lineCount(line: string, direction: 'in' | 'out'): string;
}

export function deviceTopics(base: string, device: string): DeviceTopics {
  validateTopicId('base', base);
  validateTopicId('device', device);
  const root = `${base}/${device}`;
  return { root, availability: `${root}/availability`, info: `${root}/info`, stats: `${root}/stats`, all: `${root}/#` };
}

export function topicsFor(base: string, device: string, camera: string): CameraTopics {
  const dev = deviceTopics(base, device);
  validateTopicId('camera', camera);
  const cam = `${dev.root}/${camera}`;
  return {
    ...dev,
    camera: cam,
    detections: `${cam}/detections`,
    mask: `${cam}/mask`,
    events: `${cam}/events`,
    snapshot: `${cam}/snapshot`,
    snapshotGet: `${cam}/snapshot/get`,
    objects: (label: string) => `${cam}/objects/${labelSlug(label)}`,
    objectsFilter: `${cam}/objects/+`,
    zoneOccupied: (zone) => `${cam}/zones/${validateTopicId('zone', zone)}/occupied`,
    zoneCount: (zone, label) => `${cam}/zones/${validateTopicId('zone', zone)}/${labelSlug(label)}`,
    zoneCoverage: (zone, cls) => `${cam}/zones/${validateTopicId('zone', zone)}/coverage/${labelSlug(cls)}`,
    zoneFilter: (zone) => `${cam}/zones/${validateTopicId('zone', zone)}/#`,
    lineCount: (line, direction) => `${cam}/lines/${validateTopicId('line', line)}/${direction}`,
  };
}

export interface ParsedTopic {
  kind: TopicKind;
  camera?: string;
  /** the label slug, for `objects` and `zone_count`; the class slug for `zone_coverage` */
  label?: string;
  zone?: string;
  line?: string;
  direction?: 'in' | 'out';
}

/** Inverse of the builders for one device: which kind of topic is this? `null` when it is not one of ours. */
export function parseTopic(base: string, device: string, topic: string): ParsedTopic | null {
  const { root } = deviceTopics(base, device);
  if (!topic.startsWith(root + '/')) return null;
  const rest = topic.slice(root.length + 1).split('/');
  if (rest.length === 1) {
    const k = rest[0];
    return k === 'availability' || k === 'info' || k === 'stats' ? { kind: k } : null;
  }
  const [camera, leaf, extra, ...more] = rest as [string, string, string | undefined, ...string[]];
  if (camera.length === 0) return null;
  if (leaf === 'zones' && extra) {
    if (more.length === 1 && more[0] === 'occupied') return { kind: 'zone_occupied', camera, zone: extra };
    if (more.length === 1 && more[0]) return { kind: 'zone_count', camera, zone: extra, label: more[0] };
    if (more.length === 2 && more[0] === 'coverage' && more[1]) return { kind: 'zone_coverage', camera, zone: extra, label: more[1] };
    return null;
  }
  if (leaf === 'lines' && extra && more.length === 1 && (more[0] === 'in' || more[0] === 'out'))
    return { kind: 'line_count', camera, line: extra, direction: more[0] };
  if (more.length > 0) return null;
  if (extra === undefined) {
    if (leaf === 'detections' || leaf === 'mask' || leaf === 'events' || leaf === 'snapshot') return { kind: leaf, camera };
    return null;
  }
  if (leaf === 'snapshot' && extra === 'get') return { kind: 'snapshot_get', camera };
  if (leaf === 'objects' && extra.length > 0) return { kind: 'objects', camera, label: extra };
  return null;
}
