// Kafka topic configs derived from the policy. Topics that may carry per-person records get
// retention.ms = raw TTL and a small segment.ms: Kafka deletes only closed segments, so with
// the default 7-day segment a "15 minute" retention would keep data for a week.
//
// Guarantee P2, the stated bound: no per-person record stays on disk longer than TTL + bound
// after its timestamp, with
//   bound = segment.ms                        a segment spans up to segment.ms of record timestamps
//                                             (Kafka rolls when a record arrives segment.ms after the
//                                             segment's first) and is deleted only once its NEWEST
//                                             record is older than retention.ms; an active segment
//                                             that is entirely past retention is rolled and deleted
//         + log.retention.check.interval.ms   retention is enforced by a periodic check (10 s in
//                                             infra/local/kafka.sh and docker-compose.yml)
//         + log.segment.delete.delay.ms       a deleted segment is renamed *.deleted and removed
//                                             from disk after this delay (1 s)
//         + slack                             scheduling (a few seconds)
// Record timestamps are event times, which adds two terms for records that are not on time:
//         + rawData.maxLateness               a late record dies with the newer records of its
//                                             segment; the gateway drops sightings later than
//                                             this (60 s), so their extra age is bounded
//         + rawData.maxFutureSkew             a record stamped ahead of the clock (≤ 30 s) keeps
//                                             its segment, and the records in it, that much longer
//         + the sighting slot                 a sighting is stamped with the start of its slot
//                                             (sighting-time.ts, ≤ 60 s), i.e. written up to a
//                                             slot after its timestamp, like a late record
// With the shipped policy (TTL 15 min, segment 1 min): 15 min + 71 s + 150 s + slack = 18 min
// 41 s + slack (raw-data-limit.ts states it with 5 s of slack). Measured on a real broker (with on-time records, so the first three terms)
// by test/privacy/p2-raw-data-dies-on-time.test.ts.
//
// Every topic, personal or not, gets an explicit segment.ms and file.delete.delay.ms (the topic's
// own log.segment.delete.delay.ms), so its on-disk lifetime is stated, not a broker default: a
// topic without segment.ms rolls a segment every 7 days, and its records outlive retention.ms by
// up to that. topicLifetimeMs is that lifetime (the first three terms above, for a record
// stamped on time); the register states it per topic and P7 (test/privacy/p7-one-policy.test.ts)
// recomputes it from the configs the running broker reports.
import { PERSONAL_TOPICS, TOPICS } from '@lethe/schemas';
import type { Policy } from './policy.ts';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  configs: Record<string, string>;
}

export interface TopicPartitions {
  readings?: number;
  sightings?: number;
  aggregates?: number;
  rejected?: number;
}

export interface TopicSpecOptions extends TopicPartitions {
  /** Prefix of every topic name, for a pipeline sharing its Kafka cluster with another (tests, staging). */
  prefix?: string;
}

/**
 * Partitions of the input topics (readings keyed by device, sightings keyed by pseudonym), i.e.
 * how many processor instances can share the work. Figures are the same with any number
 * (docs/privacy.md, "Scale-out"). Raising it later adds partitions; Kafka cannot remove them.
 */
export const DEFAULT_INPUT_PARTITIONS = 3;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const AUDIT_RETENTION_MS = 400 * DAY_MS;
/**
 * The release ledger must outlive (a) the partials of every window it covers, which live the raw
 * TTL, and (b) the ε ledger's day and yesterday: a claim written at 23:59 holds that day's ε,
 * which the register shows until the next midnight. Two days covers both with margin; the
 * releaser writes a claim at every release, so a running pipeline always has its latest state
 * well inside retention.
 */
const LEDGER_RETENTION_MS = 2 * DAY_MS;

/**
 * The broker's retention check interval (log.retention.check.interval.ms), a broker-wide
 * setting: infra/local/kafka.sh and docker-compose.yml set it to 10 s. P7 reads it back from the
 * running broker.
 */
export const RETENTION_CHECK_INTERVAL_MS = 10_000;
/** How long a deleted segment stays on disk as *.deleted (file.delete.delay.ms, set on every topic). */
export const FILE_DELETE_DELAY_MS = 1_000;

/**
 * The longest a record stamped on time stays on disk: retention, plus the segment roll (Kafka
 * deletes whole segments, by their newest record), plus the retention check interval, plus the
 * delete delay. `checkIntervalMs` is the broker's log.retention.check.interval.ms.
 */
export function topicLifetimeMs(configs: Readonly<Record<string, string | undefined>>, checkIntervalMs: number = RETENTION_CHECK_INTERVAL_MS): number {
  const term = (name: string) => {
    const value = Number(configs[name]);
    if (configs[name] === undefined || !Number.isFinite(value)) throw new Error(`a topic's lifetime needs ${name}; every topic states it (topic-configs.ts)`);
    return value;
  };
  return term('retention.ms') + term('segment.ms') + checkIntervalMs + term('file.delete.delay.ms');
}

export function topicSpecs(policy: Policy, { prefix = '', ...partitions }: TopicSpecOptions = {}): TopicSpec[] {
  const deleteDelay = { 'file.delete.delay.ms': String(FILE_DELETE_DELAY_MS) };
  const personal = {
    'cleanup.policy': 'delete',
    'retention.ms': String(policy.rawData.ttl),
    'segment.ms': String(policy.rawData.segment),
    // Also bound by size so a burst cannot keep a segment open past segment.ms.
    'segment.bytes': String(16 * 1024 * 1024),
    ...deleteDelay,
  };
  const operational = {
    'cleanup.policy': 'delete',
    // Readings hold no personal data, but still need not outlive the raw-data TTL by much.
    'retention.ms': String(policy.rawData.ttl),
    'segment.ms': String(policy.rawData.segment),
    ...deleteDelay,
  };
  const spec = (topic: string, n: number | undefined, configs: Record<string, string>): TopicSpec => ({
    topic: `${prefix}${topic}`,
    numPartitions: n ?? 1,
    configs,
  });
  return [
    spec(TOPICS.readings, partitions.readings ?? DEFAULT_INPUT_PARTITIONS, operational),
    spec(TOPICS.sightings, partitions.sightings ?? DEFAULT_INPUT_PARTITIONS, personal),
    // The processor's stage 1 → stage 2: figures below k, so personal. One partition, so a single
    // releaser sees every window of every stream and keeps the one global ε ledger.
    spec(TOPICS.partials, 1, personal),
    // Anonymous, kept a day for replays into InfluxDB; hourly segments, so a day means a day and an hour, not a day and a week.
    spec(TOPICS.aggregates, partitions.aggregates, {
      'cleanup.policy': 'delete',
      'retention.ms': String(DAY_MS),
      'segment.ms': String(HOUR_MS),
      ...deleteDelay,
    }),
    spec(TOPICS.rejected, partitions.rejected, personal),
    // Audit events (P8) hold no personal data and are the input of the hash-chained audit log:
    // kept long (400 days) so the api can rebuild or resume its log after a long outage. One
    // partition, so the log's order is the order the events reached Kafka.
    spec(TOPICS.audit, 1, { 'cleanup.policy': 'delete', 'retention.ms': String(AUDIT_RETENTION_MS), 'segment.ms': String(DAY_MS), ...deleteDelay }),
    // The release ledger (release-claims.ts): no personal data. Not compacted: the verdict on a
    // window is its FIRST claim, which compaction (keeping a key's last record) would lose. One
    // partition, so every releaser reads the claims in the same order.
    spec(TOPICS.ledger, 1, { 'cleanup.policy': 'delete', 'retention.ms': String(LEDGER_RETENTION_MS), 'segment.ms': String(HOUR_MS), ...deleteDelay }),
  ];
}

/** True for topics whose records may concern a person, even pseudonymized (also under a prefix). */
export function isPersonalTopic(topic: string): boolean {
  return PERSONAL_TOPICS.some((name) => topic.endsWith(name));
}

/** InfluxDB bucket retention for aggregates, in seconds. */
export function aggregateRetentionSeconds(policy: Policy): number {
  return policy.aggregates.retention / 1000;
}
