// The public transparency register: per kind of sensor, what it measures, which personal data
// it sees and what happens to that data, why (purposes, legal basis) and how long anything
// lives. It is computed from the policy with the same functions that configure Kafka
// (topicSpecs) and InfluxDB (aggregateRetentionSeconds), so it cannot promise anything the
// pipeline does not enforce (guarantee P7). Pure: no I/O. Live figures (ε spent, keys
// destroyed) and each topic's replication, read from the brokers, are added by whoever serves it
// (withReplication).
import { DEVICE_KINDS, TOPICS, type DeviceKind } from '@lethe/schemas';
import { formatDuration, WHOLE_UNITS } from './duration.ts';
import type { FieldPolicy, KindPolicy, Policy } from './policy.ts';
import { aggregateRetentionSeconds, isPersonalTopic, topicLifetimeMs, topicSpecs, type TopicSpec } from './topic-configs.ts';

/** A duration both exact (for machines and checks) and readable (for people). */
export interface RegisterDuration {
  ms: number;
  /** e.g. `15m`, `30d`. */
  text: string;
}

/**
 * Something the sensor measures: about the city (environmental), about the city but moving with
 * the people present (presence-dependent), or about people in aggregate (person-derived).
 */
export interface RegisterMeasurement {
  field: string;
  class: 'environmental' | 'presence-dependent' | 'person-derived';
  unit?: string;
  description?: string;
  /** How it is published, in plain words. */
  published: string;
}

/** Personal data the sensor sees, and what the gateway does with it before anything is kept. */
export interface RegisterPersonalData {
  field: string;
  class: 'direct-identifier' | 'quasi-identifier';
  treatment: 'pseudonymize' | 'drop';
  description?: string;
  /** The treatment in plain words. */
  handling: string;
}

export interface RegisterProcessing {
  /** Fields replaced at the gateway by keyed HMAC pseudonyms whose key lives for one epoch. */
  pseudonymized: string[];
  /** How long a pseudonym epoch lasts; pseudonyms of different epochs cannot be linked. Its key is destroyed the policy's key grace after the epoch ends. */
  pseudonymEpoch: RegisterDuration;
  /** Fields removed at the gateway and never forwarded (data minimization). */
  minimized: string[];
  /** Tumbling window over which figures are aggregated. */
  window: RegisterDuration;
  /** Person-derived counts below k are suppressed. */
  k: number;
  /** Differential-privacy budget spent by one release of a stream's window (shared between the figures it releases). */
  epsilonPerRelease: number;
  /** Daily differential-privacy budget; releases stop when it is spent. */
  epsilonPerDay: number;
}

export const REPLICATION_STATES = ['read', 'not-read', 'no-such-topic', 'read-failed'] as const;

/**
 * How many copies of a topic the Kafka cluster keeps, as its brokers report it. Every replica is
 * a full copy of the topic's records — for a personal topic, a copy of personal data on another
 * server — so the register states it. The policy does not decide it: services create topics with
 * the cluster's defaults (`default.replication.factor`, `min.insync.replicas`,
 * `unclean.leader.election.enable`), which an operator sets per deployment (1 node, or 3 with
 * `LETHE_KAFKA_NODES=3`). A figure derived from the policy or from a deployment file could
 * therefore state what is not in force; the only source that cannot drift is the cluster, read
 * at the api's start and at every scheduled check (services/api/src/topic-replication.ts).
 * Unknown figures are null with the reason in `state`, never a default or an earlier reading.
 */
export interface RegisterReplication {
  /**
   * `read`: the figures are what the brokers reported at the latest read. `not-read`: no read
   * yet, or nothing to read from (`pnpm demo` has no Kafka). `no-such-topic`: the cluster has not
   * got the topic yet (the services create it when they start). `read-failed`: the latest read
   * failed (brokers unreachable, not authorized, or an answer without these figures).
   */
  state: (typeof REPLICATION_STATES)[number];
  /** Copies of every record the cluster keeps (replicas of the topic's least replicated partition). */
  replicas: number | null;
  /** Copies a record must reach before a producer that waits for all in-sync replicas is told it is written (`min.insync.replicas`). */
  minInsyncReplicas: number | null;
  /** Whether a replica that missed records may become leader and lose them (`unclean.leader.election.enable`). */
  uncleanLeaderElection: boolean | null;
}

/** The replication the register states when it has not been read (or could not be): nothing. */
export function unknownReplication(state: Exclude<RegisterReplication['state'], 'read'>): RegisterReplication {
  return { state, replicas: null, minInsyncReplicas: null, uncleanLeaderElection: null };
}

/** A Kafka topic as the broker is told to keep it, and as the cluster replicates it. */
export interface RegisterTopic {
  topic: string;
  /** True when its records may concern a person, even pseudonymized. */
  personal: boolean;
  /** What its records hold, in plain words. */
  holds: string;
  /** Records older than this are deleted (`retention.ms`). */
  retention: RegisterDuration;
  /** Kafka deletes whole segments; a segment is closed after this long (`segment.ms`). */
  segment: RegisterDuration;
  /**
   * The longest a record (stamped on time) stays on disk: retention + segment roll + the broker's
   * retention check interval + the delete delay (topic-configs.ts, topicLifetimeMs).
   */
  lifetime: RegisterDuration;
  /** The exact topic configs the services apply to the broker. */
  configs: Record<string, string>;
  /** Read from the brokers by whoever serves the register (withReplication); `not-read` from buildRegister alone. */
  replication: RegisterReplication;
}

export interface RegisterSensor {
  kind: DeviceKind;
  title: string;
  description: string;
  purposes: string[];
  legalBasis: string;
  measures: RegisterMeasurement[];
  personalData: RegisterPersonalData[];
  /** Operational fields (device id, sequence number, timestamp) needed to run the pipeline. */
  operational: string[];
  processing: RegisterProcessing;
  /** Per-person records (even pseudonymized) are deleted once older than this; on disk they last at most this plus P2's stated bound (raw-data-limit.ts). */
  rawDataTtl: RegisterDuration;
  storage: {
    /** The Kafka topics this sensor's data passes through. */
    topics: RegisterTopic[];
    /** How long the anonymous aggregates are kept in InfluxDB. */
    aggregatesRetention: RegisterDuration;
  };
}

export interface Register {
  policy: { id: string; version: number };
  /** The body accountable for the processing. */
  controller: string;
  contact: string;
  rawData: {
    ttl: RegisterDuration;
    segment: RegisterDuration;
    maxLateness: RegisterDuration;
    /** How long a pseudonym key outlives its epoch (until then that epoch is still linkable by the key's holder). */
    keyGrace: RegisterDuration;
    /** How far ahead of the gateway's clock a reading may be stamped. */
    maxFutureSkew: RegisterDuration;
  };
  /** Every Kafka topic of the pipeline. */
  topics: RegisterTopic[];
  /** The only long-term store: anonymous aggregates. */
  aggregates: { store: 'InfluxDB'; retention: RegisterDuration };
  sensors: RegisterSensor[];
}

const TOPIC_HOLDS: Readonly<Record<string, string>> = {
  [TOPICS.readings]: 'Minimized readings per device: environmental and person-derived figures, no identifiers.',
  [TOPICS.sightings]:
    'One record per phone or vehicle, device and sighting slot (a minute for phones, 10 s for plates), under its epoch pseudonym (never the raw MAC or plate).',
  [TOPICS.partials]:
    'Per window and input partition, the counts and histograms the processor merges before k-anonymity and noise; no pseudonym and no per-person value, but figures below k.',
  [TOPICS.aggregates]: 'Anonymous per-window aggregates on their way to InfluxDB.',
  [TOPICS.rejected]: 'Messages the gateway refused: the reason and an excerpt with every value removed.',
  [TOPICS.audit]:
    'Audit events (policy loaded, pseudonym key destroyed — never the key —, refusals) on their way to the hash-chained audit log; no personal data.',
  [TOPICS.ledger]:
    'The release ledger: per release, up to which window each series was released, a fingerprint of the noise key (which reveals nothing about the key) and the ε spent today and yesterday; read by every releaser so that no window is released twice with different noise. No personal data.',
};

const duration = (ms: number): RegisterDuration => ({ ms, text: formatDuration(ms) });

/** A lifetime is a sum of unlike terms (2 days + 1 hour + 11 s): written as such, not as `176411s`. */
function lifetime(ms: number): RegisterDuration {
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of WHOLE_UNITS) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}ms`);
  return { ms, text: parts.join(' ') };
}

function registerTopic(spec: TopicSpec): RegisterTopic {
  const holds = TOPIC_HOLDS[spec.topic];
  if (!holds) throw new Error(`The register has no description of topic "${spec.topic}"; add one to TOPIC_HOLDS in register.ts.`);
  const retentionMs = spec.configs['retention.ms'];
  if (retentionMs === undefined) throw new Error(`Topic "${spec.topic}" has no retention.ms; every topic's retention must come from the policy.`);
  const segmentMs = spec.configs['segment.ms'];
  if (segmentMs === undefined)
    throw new Error(`Topic "${spec.topic}" has no segment.ms; without it the broker keeps records up to 7 days past their retention.`);
  return {
    topic: spec.topic,
    personal: isPersonalTopic(spec.topic),
    holds,
    retention: duration(Number(retentionMs)),
    segment: duration(Number(segmentMs)),
    lifetime: lifetime(topicLifetimeMs(spec.configs)),
    configs: { ...spec.configs },
    replication: unknownReplication('not-read'),
  };
}

function handling(field: FieldPolicy, epochMs: number): string {
  return field.treatment === 'pseudonymize'
    ? `Replaced at the gateway by a keyed HMAC pseudonym; the key changes every ${formatDuration(epochMs)} and is then destroyed, so pseudonyms of different periods cannot be linked and the raw value is never stored.`
    : 'Removed at the gateway: never forwarded, stored or logged.';
}

function sensor(
  kind: DeviceKind,
  policy: KindPolicy,
  topics: readonly RegisterTopic[],
  rawDataTtlMs: number,
  aggregatesRetention: RegisterDuration,
): RegisterSensor {
  const fields = Object.entries(policy.fields);
  const measures: RegisterMeasurement[] = [];
  const personalData: RegisterPersonalData[] = [];
  const operational: string[] = [];
  for (const [name, field] of fields) {
    switch (field.class) {
      case 'operational':
        operational.push(name);
        break;
      case 'environmental':
      case 'presence-dependent':
      case 'person-derived':
        // A measurement the gateway drops is not something the city learns (it is listed as minimized).
        if (field.treatment === 'keep') measures.push({ field: name, class: field.class, ...unitAndDescription(field), published: published(field, policy) });
        break;
      case 'direct-identifier':
      case 'quasi-identifier':
        // The policy schema already refuses this; the register must never say "kept" for an identifier.
        if (field.treatment === 'keep') throw new Error(`${kind}.${name} is personal data with treatment "keep"; the policy must pseudonymize or drop it.`);
        personalData.push({
          field: name,
          class: field.class,
          treatment: field.treatment,
          ...unitAndDescription(field),
          handling: handling(field, policy.epoch),
        });
        break;
    }
  }
  const pseudonymized = fields.filter(([, f]) => f.treatment === 'pseudonymize').map(([n]) => n);
  const used = new Set<string>([TOPICS.readings, TOPICS.rejected, TOPICS.partials, TOPICS.aggregates, ...(pseudonymized.length > 0 ? [TOPICS.sightings] : [])]);
  return {
    kind,
    title: policy.title,
    description: policy.description,
    purposes: [...policy.purposes],
    legalBasis: policy.legalBasis,
    measures,
    personalData,
    operational,
    processing: {
      pseudonymized,
      pseudonymEpoch: duration(policy.epoch),
      minimized: fields.filter(([, f]) => f.treatment === 'drop').map(([n]) => n),
      window: duration(policy.window),
      k: policy.k,
      epsilonPerRelease: policy.epsilonPerRelease,
      epsilonPerDay: policy.epsilonPerDay,
    },
    rawDataTtl: duration(rawDataTtlMs),
    storage: { topics: topics.filter((t) => used.has(t.topic)), aggregatesRetention },
  };
}

function published(field: FieldPolicy, kind: KindPolicy): string {
  const window = formatDuration(kind.window);
  switch (field.class) {
    case 'presence-dependent':
      return `Moves with the people or vehicles present, so it is treated as data about people: published only as a mean per district and ${window} window, with differential-privacy noise calibrated to the ${field.perPerson}${field.unit ? ` ${field.unit}` : ''} one person can change a reading (its share of ε ${kind.epsilonPerRelease} per window); never per device.`;
    case 'person-derived':
      return `About people or vehicles in aggregate: published per ${window} window only for groups of at least ${kind.k}, as counts and histograms with differential-privacy noise (ε ${kind.epsilonPerRelease} per window).`;
    default:
      return `Published exactly, per device and per district, per ${window} window.`;
  }
}

function unitAndDescription(field: FieldPolicy): { unit?: string; description?: string } {
  return { ...(field.unit === undefined ? {} : { unit: field.unit }), ...(field.description === undefined ? {} : { description: field.description }) };
}

/** The register's data for a policy: everything in it is derived from what is enforced. */
export function buildRegister(policy: Policy): Register {
  const topics = topicSpecs(policy).map(registerTopic);
  const aggregatesRetention = duration(aggregateRetentionSeconds(policy) * 1000);
  return {
    policy: { id: policy.id, version: policy.version },
    controller: policy.controller,
    contact: policy.contact,
    rawData: {
      ttl: duration(policy.rawData.ttl),
      segment: duration(policy.rawData.segment),
      maxLateness: duration(policy.rawData.maxLateness),
      keyGrace: duration(policy.rawData.keyGrace),
      maxFutureSkew: duration(policy.rawData.maxFutureSkew),
    },
    topics,
    aggregates: { store: 'InfluxDB', retention: aggregatesRetention },
    sensors: DEVICE_KINDS.map((kind) => sensor(kind, policy.kinds[kind], topics, policy.rawData.ttl, aggregatesRetention)),
  };
}

/**
 * The register with each topic's replication as `replicationOf` gives it (the api's latest read
 * from the brokers), in the list of topics and in every sensor's storage alike. Pure: the caller
 * reads the cluster.
 */
export function withReplication(register: Register, replicationOf: (topic: string) => RegisterReplication): Register {
  const current = (t: RegisterTopic): RegisterTopic => ({ ...t, replication: { ...replicationOf(t.topic) } });
  return {
    ...register,
    topics: register.topics.map(current),
    sensors: register.sensors.map((s) => ({ ...s, storage: { ...s.storage, topics: s.storage.topics.map(current) } })),
  };
}
