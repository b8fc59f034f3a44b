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
//         + the gateway's max future skew     a record stamped ahead of the clock (≤ 30 s) keeps
//                                             its segment, and the records in it, that much longer
// With the shipped policy (TTL 15 min, segment 1 min): 15 min + 71 s + 90 s + slack = 17 min
// 41 s + slack. Measured on a real broker (with on-time records, so the first three terms)
// by test/privacy/p2-raw-data-dies-on-time.test.ts.
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

const AUDIT_RETENTION_MS = 400 * 86_400_000;

export function topicSpecs(policy: Policy, { prefix = '', ...partitions }: TopicSpecOptions = {}): TopicSpec[] {
  const personal = {
    'cleanup.policy': 'delete',
    'retention.ms': String(policy.rawData.ttl),
    'segment.ms': String(policy.rawData.segment),
    // Also bound by size so a burst cannot keep a segment open past segment.ms.
    'segment.bytes': String(16 * 1024 * 1024),
  };
  const operational = {
    'cleanup.policy': 'delete',
    // Readings hold no personal data, but still need not outlive the raw-data TTL by much.
    'retention.ms': String(policy.rawData.ttl),
    'segment.ms': String(policy.rawData.segment),
  };
  const spec = (topic: string, n: number | undefined, configs: Record<string, string>): TopicSpec => ({ topic: `${prefix}${topic}`, numPartitions: n ?? 1, configs });
  return [
    spec(TOPICS.readings, partitions.readings ?? DEFAULT_INPUT_PARTITIONS, operational),
    spec(TOPICS.sightings, partitions.sightings ?? DEFAULT_INPUT_PARTITIONS, personal),
    // The processor's stage 1 → stage 2: figures below k, so personal. One partition, so a single
    // releaser sees every window of every stream and keeps the one global ε ledger.
    spec(TOPICS.partials, 1, personal),
    spec(TOPICS.aggregates, partitions.aggregates, { 'cleanup.policy': 'delete', 'retention.ms': String(24 * 3_600_000) }),
    spec(TOPICS.rejected, partitions.rejected, personal),
    // Audit events (P8) hold no personal data and are the input of the hash-chained audit log:
    // kept long (400 days) so the api can rebuild or resume its log after a long outage. One
    // partition, so the log's order is the order the events reached Kafka.
    spec(TOPICS.audit, 1, { 'cleanup.policy': 'delete', 'retention.ms': String(AUDIT_RETENTION_MS) }),
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
