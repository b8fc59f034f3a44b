// Watches the personal topics (PERSONAL_TOPICS) with the Kafka admin client: at every scheduled
// check (retention-schedule.ts) it reads each partition's low and high watermark and, when the
// partition holds records, the timestamp of the oldest one, and compares it with the raw-data
// limit (TTL + stated bound). Only the outcome — within the limit or not — leaves this file:
// offsets are exact counts of sightings and the oldest timestamp is a person's time (P9).
//
// Least privilege: the timestamp is found without reading any record. ListOffsets by timestamp
// answers "the earliest offset whose timestamp is ≥ t", which is the low watermark exactly when
// t ≤ the oldest record's timestamp, so a search over t finds that timestamp (to a second,
// rounded down: the age compared with the limit is never less than the true one). The api
// therefore needs only Describe on these topics, never Read: it cannot see a pseudonym, let
// alone a record's value. The price is a few dozen small ListOffsets requests when a watermark
// moves (none otherwise). Nothing is kept across restarts: every check reads Kafka afresh.
//
// The same schedule reads every topic's replication for the register, before each slot's checks
// (`replication`, topic-replication.ts).
import type { AuditLog } from '@lethe/audit';
import type { Admin } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';
import { createRetentionSchedule, type CheckOutcome, type RetentionSchedule } from './retention-schedule.ts';
import type { TopicReplicationReader } from './topic-replication.ts';

/** The admin calls the watch uses (kafkajs Admin has them). */
export type WatchAdmin = Pick<Admin, 'fetchTopicOffsets' | 'fetchTopicOffsetsByTimestamp'>;

export interface PersonalTopicWatchOptions {
  admin: WatchAdmin;
  topics: readonly string[];
  audit: Pick<AuditLog, 'append'>;
  intervalMs: number;
  /** One retention attestation per topic per period (the policy's raw-data TTL). */
  periodMs: number;
  /** TTL + stated bound (rawDataLimit of @lethe/privacy). */
  limitMs: number;
  logger: Logger;
  now?: () => number;
  onCheck?: (topic: string, outcome: CheckOutcome) => void;
  onAppend?: (type: string) => void;
  /** Refreshed at every check, before the personal topics are looked at: the register's replication figures. */
  replication?: Pick<TopicReplicationReader, 'refresh'>;
}

export type PersonalTopicWatch = RetentionSchedule;

/** Search precision of the oldest timestamp. */
const PRECISION_MS = 1000;

/** The oldest record's timestamp per partition (null: empty), for the check; never published. */
export function createOldestRecordFinder(admin: WatchAdmin, now: () => number = Date.now): (topic: string) => Promise<Array<number | null>> {
  /** Oldest timestamp per topic:partition:low — a record never changes, so neither does this. */
  const oldestAt = new Map<string, number>();

  async function offsetAt(topic: string, partition: number, ts: number): Promise<number> {
    const offsets = await admin.fetchTopicOffsetsByTimestamp(topic, ts);
    const found = offsets.find((o) => o.partition === partition);
    if (!found) throw new Error(`partition ${partition} of ${topic} vanished`);
    return Number(found.offset);
  }

  /** Largest t (to PRECISION_MS) with offsetAt(t) === low: the oldest record's timestamp, rounded down. */
  async function oldestTimestamp(topic: string, partition: number, low: number): Promise<number> {
    const key = `${topic}:${partition}:${low}`;
    const cached = oldestAt.get(key);
    if (cached !== undefined) return cached;
    const t = now();
    // Records may be stamped ahead of the clock; look a day ahead before assuming the past.
    let bad = t + 86_400_000;
    if ((await offsetAt(topic, partition, bad)) === low) return bad;
    // Exponential search backwards for a time at or before the oldest record.
    let good = t;
    for (let step = 60_000; (await offsetAt(topic, partition, good)) !== low; step *= 2) {
      bad = good;
      good = Math.max(0, t - step);
      if (good === 0) break;
    }
    while (bad - good > PRECISION_MS) {
      const mid = Math.floor((good + bad) / 2);
      if ((await offsetAt(topic, partition, mid)) === low) good = mid;
      else bad = mid;
    }
    // The watermark moved on: the timestamps of earlier ones are of no more use.
    for (const k of oldestAt.keys()) if (k.startsWith(`${topic}:${partition}:`)) oldestAt.delete(k);
    oldestAt.set(key, good);
    return good;
  }

  return async (topic) => {
    const out: Array<number | null> = [];
    for (const p of await admin.fetchTopicOffsets(topic)) {
      const low = Number(p.low);
      out.push(low < Number(p.high) ? await oldestTimestamp(topic, p.partition, low) : null);
    }
    return out;
  };
}

export function createPersonalTopicWatch({
  admin,
  topics,
  audit,
  intervalMs,
  periodMs,
  limitMs,
  logger,
  now = Date.now,
  onCheck,
  onAppend,
  replication,
}: PersonalTopicWatchOptions): PersonalTopicWatch {
  const oldest = createOldestRecordFinder(admin, now);
  return createRetentionSchedule({
    topics,
    check: async (topic, at) => (await oldest(topic)).every((ts) => ts === null || at - ts <= limitMs),
    intervalMs,
    periodMs,
    limitMs,
    audit,
    logger,
    now,
    ...(onCheck ? { onCheck } : {}),
    ...(onAppend ? { onAppend } : {}),
    ...(replication ? { beforeChecks: () => replication.refresh() } : {}),
  });
}
