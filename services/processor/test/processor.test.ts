// Stage 1's Kafka runner over fakes of Kafka: what it counts of the records of one input batch
// (readings, sightings records that bundle a reading's sightings for the partition, single
// sightings as gateways before bundles wrote them, invalid records), the partial it emits when
// the window closes, and the offsets it commits after — only once the partials are in Kafka,
// only for partitions it still owns; a batch cut short by a stop or a rebalance. (On a real
// broker: test/integration and test/privacy, every sighting reconciled by the fault suite.)
import type { Admin, BatchingProducer, Consumer, EachBatchPayload } from '@lethe/kafka';
import { createLogger, createMetricsRegistry } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy, ManualClock } from '@lethe/privacy';
import { WindowPartialRecordSchema, type SightingRecord, type SightingsRecord } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { createProcessorMetrics } from '../src/metrics.ts';
import { createProcessor } from '../src/processor.ts';

const policy = loadPolicy(DEFAULT_POLICY_PATH);
const WINDOW = policy.kinds.lamppost.window;
const T0 = Date.UTC(2026, 11, 4, 8, 0);
const topics = { readings: 'lethe.readings.v1', sightings: 'lethe.sightings.v1', partials: 'lethe.partials.v1' };
const pseudonym = (i: number) => `pseudonym-${String(i).padStart(8, '0')}`;
const shared = {
  source: 'wifi',
  epoch: Math.floor(T0 / policy.kinds.lamppost.epoch),
  kind: 'lamppost',
  deviceId: 'LP-0001',
  district: 'wan-chai',
  ts: T0,
} as const;
const bundle = (ids: number[]): SightingsRecord => ({ v: 2, ...shared, sightings: ids.map((i) => ({ pseudonym: pseudonym(i) })) });
const single = (i: number): SightingRecord => ({ v: 1, ...shared, pseudonym: pseudonym(i) });

function setup({ failSends = 0 } = {}) {
  const clock = new ManualClock(T0 + 1000);
  const metrics = createProcessorMetrics(createMetricsRegistry('processor'));
  // The records counter exports sightings in whole blocks (P9): counted here before it rounds.
  const counted = new Map<string, number>();
  metrics.records = {
    labels: (topic: string, outcome: string) => ({ inc: (n = 1) => void counted.set(`${topic} ${outcome}`, (counted.get(`${topic} ${outcome}`) ?? 0) + n) }),
  } as unknown as typeof metrics.records;
  const sent: Array<{ topic: string; value: string }> = [];
  const commits: Array<{ topic: string; partition: number; offset: string }> = [];
  const processor = createProcessor({
    policy,
    consumer: { commitOffsets: async (o: typeof commits) => void commits.push(...o) } as unknown as Consumer,
    producer: {
      send: async (records: typeof sent) => {
        if (failSends-- > 0) throw new Error('Kafka did not acknowledge within 60000 ms');
        sent.push(...records);
      },
      flush: async () => undefined,
    } as unknown as BatchingProducer,
    admin: {
      fetchOffsets: async () => [{ topic: topics.sightings, partitions: [{ partition: 0, offset: '-1', metadata: null }] }],
      fetchTopicOffsets: async () => [{ partition: 0, offset: '5', high: '5', low: '0' }],
    } as unknown as Pick<Admin, 'fetchOffsets' | 'fetchTopicOffsets'>,
    groupId: 'lethe-processor',
    topics,
    metrics,
    logger: createLogger({ service: 'test', level: 'silent' }),
    graceMs: 5000,
    maxWaitMs: 15_000,
    clock,
  });
  return { processor, clock, counted, sent, commits, metrics };
}

/** A batch from offset 0; `running` says for how many records the consumer keeps running, `resolved` gets the offsets resolved. */
function batchOf(values: Array<string | null>, { topic = topics.sightings, lag = 0, running = Infinity, resolved = [] as string[] } = {}): EachBatchPayload {
  let checks = 0;
  return {
    batch: {
      topic,
      partition: 0,
      messages: values.map((value, offset) => ({ offset: String(offset), value: value === null ? null : Buffer.from(value) })),
      offsetLag: () => String(lag),
    },
    resolveOffset: (offset: string) => void resolved.push(offset),
    heartbeat: async () => undefined,
    isRunning: () => checks++ < running,
    isStale: () => false,
  } as unknown as EachBatchPayload;
}

describe("stage 1's Kafka runner", () => {
  it('counts every sighting of a sightings record, reads single sightings too, refuses what is not one, and summarizes them once the window closes', async () => {
    const { processor, clock, counted, sent, commits } = setup();
    processor.assigned({ [topics.sightings]: [0] });
    await processor.eachBatch(
      batchOf([
        JSON.stringify(bundle([1, 2, 3])),
        // The same record again (a redelivered reading): each of its sightings is a duplicate.
        JSON.stringify(bundle([1, 2, 3])),
        JSON.stringify(single(4)),
        JSON.stringify({ ...bundle([5]), sightings: [] }),
        'not json',
      ]),
    );
    expect(Object.fromEntries(counted)).toEqual({
      [`${topics.sightings} accepted`]: 4,
      [`${topics.sightings} duplicate`]: 3,
      [`${topics.sightings} invalid`]: 2,
    });

    // Past the window's end, its grace and the max wait: the partial is emitted, then the offsets committed.
    clock.set(T0 + WINDOW + 30_000);
    await processor.tick();
    const partials = sent.filter((r) => r.topic === topics.partials).map((r) => WindowPartialRecordSchema.parse(JSON.parse(r.value)));
    const window = partials.find((p) => p.type === 'sightings' && p.windowStart === T0);
    expect(window).toMatchObject({ type: 'sightings', source: 'wifi', cells: [{ deviceId: 'LP-0001', people: 4 }] });
    // A sighting is needed until its epoch ends (dwell times): nothing of the batch is committed yet.
    const committed = () => commits.map(({ topic, partition, offset }) => ({ topic, partition, offset })).at(-1);
    expect(committed()).toEqual({ topic: topics.sightings, partition: 0, offset: '0' });
    const epochEnd = (shared.epoch + 1) * policy.kinds.lamppost.epoch;
    clock.set(epochEnd + 30_000);
    await processor.tick();
    expect(committed()).toEqual({ topic: topics.sightings, partition: 0, offset: '5' });
    // The epoch's dwell partial went first.
    expect(sent.map((r) => WindowPartialRecordSchema.parse(JSON.parse(r.value))).filter((p) => p.type === 'dwell' && p.windowEnd === epochEnd)).toHaveLength(1);
  });

  it("exports the sightings partitions' lag in whole blocks (a sightings record is a reading with someone about), the readings' exactly", async () => {
    const { processor, metrics } = setup();
    processor.assigned({ [topics.sightings]: [0], [topics.readings]: [0] });
    const lag = async () => Object.fromEntries((await metrics.consumerLag.get()).values.map((v) => [v.labels.topic, v.value]));
    await processor.eachBatch(batchOf([JSON.stringify(bundle([1]))], { lag: 1999 }));
    await processor.eachBatch(batchOf([], { topic: topics.readings, lag: 1999 }));
    expect(await lag()).toEqual({ [topics.sightings]: 1000, [topics.readings]: 1999 });
    await processor.eachBatch(batchOf([JSON.stringify(bundle([2]))], { lag: 999 }));
    expect((await lag())[topics.sightings]).toBe(0);
  });

  it('commits nothing while the partials are not in Kafka: a failed send is thrown from the tick, and the next tick sends them, then commits', async () => {
    const { processor, clock, sent, commits } = setup({ failSends: 1 });
    processor.assigned({ [topics.sightings]: [0] });
    await processor.eachBatch(batchOf([JSON.stringify(bundle([1, 2, 3]))]));
    clock.set(T0 + WINDOW + 30_000);
    await expect(processor.tick()).rejects.toThrow('Kafka did not acknowledge');
    expect(sent).toEqual([]);
    expect(commits).toEqual([]);
    await processor.tick();
    // Sent once, whole, after the retry.
    const partials = sent.map((r) => WindowPartialRecordSchema.parse(JSON.parse(r.value))).filter((p) => p.type === 'sightings' && p.source === 'wifi');
    expect(partials.filter((p) => p.windowStart === T0)).toMatchObject([{ cells: [{ deviceId: 'LP-0001', people: 3 }] }]);
    expect(commits).toHaveLength(1);
  });

  it('hands the records of a batch over in order and stops where the consumer stops or the group rebalances, leaving the rest unresolved', async () => {
    const { processor, counted } = setup();
    processor.assigned({ [topics.sightings]: [0] });
    const resolved: string[] = [];
    await processor.eachBatch(
      batchOf(
        [1, 2, 3, 4].map((i) => JSON.stringify(bundle([i]))),
        { running: 2, resolved },
      ),
    );
    expect(resolved).toEqual(['0', '1']);
    expect(counted.get(`${topics.sightings} accepted`)).toBe(2);
  });

  it('after a rebalance commits nothing for a partition it no longer owns', async () => {
    const { processor, clock, commits } = setup();
    processor.assigned({ [topics.sightings]: [0] });
    await processor.eachBatch(batchOf([JSON.stringify(bundle([1]))]));
    processor.assigned({ [topics.readings]: [0] });
    clock.set(T0 + WINDOW + 30_000);
    await processor.tick();
    expect(commits.filter((c) => c.topic === topics.sightings)).toEqual([]);
  });
});
