// Reading back what a processor deployment released, for the tests that compare deployments
// figure for figure (scale-out: 1 vs 3 processors; topologies: a minimal vs a scaled-out stack).
import { createKafka, type Admin } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { AggregateRecordSchema, topicNames, type AggregateRecord } from '@lethe/schemas';
import { expect } from 'vitest';
import { waitFor } from './wait.ts';

const logger = createLogger({ service: 'released-aggregates', level: 'warn' });

/** A processor deployment: its consumer group (the releaser's is `<group>-releaser`) and its output topics' prefix. */
export interface Deployment {
  name: string;
  brokers: readonly string[];
  groupId: string;
  topicPrefix: string;
}

/** How far a deployment's releaser has released each series, from its committed offset metadata. */
export async function releasedUpTo(admin: Admin, d: Deployment): Promise<Record<string, number>> {
  const [offsets] = await admin.fetchOffsets({ groupId: `${d.groupId}-releaser`, topics: [topicNames(d.topicPrefix).partials] });
  const metadata = offsets?.partitions[0]?.metadata;
  return metadata ? ((JSON.parse(metadata) as { releasedUpTo?: Record<string, number> }).releasedUpTo ?? {}) : {};
}

let reads = 0;

/**
 * Every record of a deployment's aggregates topic, once (a replayed copy is identical, and one
 * that is not fails the test), by its key plus its field names: a device's person-derived count
 * shares its environmental record's series, and so its key, so that InfluxDB merges the two into
 * one point.
 */
export async function readAggregates(admin: Admin, d: Deployment): Promise<Map<string, AggregateRecord>> {
  const topic = topicNames(d.topicPrefix).aggregates;
  const ends = await admin.fetchTopicOffsets(topic);
  const total = ends.reduce((n, p) => n + Number(p.high), 0);
  const consumer = createKafka({ brokers: [...d.brokers], clientId: 'aggregates-reader', logger }).consumer({
    // A group per read: a second read of the same topic starts from the beginning again.
    groupId: `${d.groupId}-reader-${reads++}`,
    allowAutoTopicCreation: false,
  });
  const byKey = new Map<string, AggregateRecord>();
  const mismatches: string[] = [];
  let seen = 0;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      seen++;
      const record = AggregateRecordSchema.parse(JSON.parse(message.value!.toString()));
      const key = `${message.key!.toString()}|${Object.keys(record.fields).sort().join(',')}`;
      const first = byKey.get(key);
      if (!first) byKey.set(key, record);
      else if (JSON.stringify(first) !== JSON.stringify(record)) mismatches.push(key);
    },
  });
  try {
    await waitFor(`${total} records of ${topic}`, () => seen >= total, 30_000);
  } finally {
    await consumer.disconnect();
  }
  expect(mismatches, `replayed aggregates of ${d.name} that differ from the first copy`).toEqual([]);
  return byKey;
}

/**
 * The records of the windows from `from` to `to` (those of the data), with ε spent today left
 * out: it counts from each releaser's first window, and the comparison is of the figures.
 */
export function windowsOfData(records: Map<string, AggregateRecord>, from: number, to: number): Map<string, AggregateRecord> {
  return new Map(
    [...records]
      .filter(([, r]) => r.windowStart >= from && r.windowEnd <= to)
      .map(([k, r]) => [k, r.measurement === 'privacy' ? { ...r, fields: { ...r.fields, epsilon_spent_today: 0 } } : r]),
  );
}

/** The person-derived stream or environmental measurement a record belongs to, for the per-stream comparison. */
export function streamOf(r: AggregateRecord): string {
  if (r.measurement === 'privacy') return `privacy:${r.tags.stream}`;
  if (r.measurement === 'traffic_light' && 'vehicle_count_sum' in r.fields) return 'traffic_light.vehicle_count_sum';
  return r.measurement;
}

/** Records per stream. */
export function countByStream(records: Map<string, AggregateRecord>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of records.values()) counts.set(streamOf(r), (counts.get(streamOf(r)) ?? 0) + 1);
  return counts;
}
