// Kafka topic configs derived from the policy. Topics that may carry per-person records get
// retention.ms = raw TTL and a small segment.ms: Kafka deletes only closed segments, so with
// the default 7-day segment a "15 minute" retention would keep data for a week.
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

export function topicSpecs(policy: Policy, partitions: TopicPartitions = {}): TopicSpec[] {
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
  const spec = (topic: string, n: number | undefined, configs: Record<string, string>): TopicSpec => ({ topic, numPartitions: n ?? 1, configs });
  return [
    spec(TOPICS.readings, partitions.readings, operational),
    spec(TOPICS.sightings, partitions.sightings, personal),
    spec(TOPICS.aggregates, partitions.aggregates, { 'cleanup.policy': 'delete', 'retention.ms': String(24 * 3_600_000) }),
    spec(TOPICS.rejected, partitions.rejected, personal),
  ];
}

/** True for topics whose records may concern a person, even pseudonymized. */
export function isPersonalTopic(topic: string): boolean {
  return (PERSONAL_TOPICS as readonly string[]).includes(topic);
}

/** InfluxDB bucket retention for aggregates, in seconds. */
export function aggregateRetentionSeconds(policy: Policy): number {
  return policy.aggregates.retention / 1000;
}
