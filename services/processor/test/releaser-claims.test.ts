// The releaser runner with the release ledger, over fakes of Kafka: the claim is on the ledger
// before any aggregate is sent; a release whose windows another key claimed first is withheld;
// and a releaser starting under a new consumer group restores from the ledger. And as a Kafka
// runner: partials committed only once their aggregates are in Kafka, a failed claim or send
// retried by the next tick, nothing done by an instance that does not hold the partials
// partition. (The same on a real broker with real processes: test/privacy/p9-ledger-reruns.test.ts.)
import { randomBytes } from 'node:crypto';
import type { Admin, BatchingProducer, Consumer, EachBatchPayload } from '@lethe/kafka';
import { createLogger, createMetricsRegistry } from '@lethe/observability';
import { createClaimLog, createNoiseSource, DEFAULT_POLICY_PATH, loadPolicy, noiseKeyFingerprint, type ReleaseClaim } from '@lethe/privacy';
import type { WindowPartialRecord } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { createProcessorMetrics } from '../src/metrics.ts';
import { createReleaserRunner } from '../src/releaser.ts';

const policy = loadPolicy(DEFAULT_POLICY_PATH);
const WINDOW = policy.kinds.lamppost.window;
const T0 = Date.UTC(2026, 11, 3, 8, 0);
const topics = { readings: 'lethe.readings.v1', sightings: 'lethe.sightings.v1', partials: 'lethe.partials.v1', aggregates: 'lethe.aggregates.v1' };
const logger = createLogger({ service: 'test', level: 'silent' });

function partial(i: number): WindowPartialRecord {
  const start = T0 + i * WINDOW;
  return {
    v: 1,
    type: 'sightings',
    source: 'wifi',
    windowStart: start,
    windowEnd: start + WINDOW,
    coversFrom: i === 0 ? 0 : start,
    topic: topics.sightings,
    partition: 0,
    cells: [{ deviceId: 'LP-0001', district: 'north', people: 17 }],
    trips: [],
  };
}

/** A runner over fakes; `events` is the order in which it claimed and sent. */
function setup({ before = [] as ReleaseClaim[], key = randomBytes(32), failSends = 0, failClaims = 0 } = {}) {
  const events: string[] = [];
  const log = createClaimLog();
  for (const c of before) log.apply(log.position(), c);
  const registry = createMetricsRegistry('processor');
  const metrics = createProcessorMetrics(registry);
  const commits: string[] = [];
  const runner = createReleaserRunner({
    policy,
    consumer: { commitOffsets: async (o: Array<{ metadata: string }>) => void commits.push(o[0]!.metadata) } as unknown as Consumer,
    producer: {
      send: async (records: unknown[]) => {
        if (failSends-- > 0) throw new Error('Kafka did not acknowledge within 60000 ms');
        events.push(`aggregates ×${records.length}`);
      },
      flush: async () => undefined,
    } as unknown as BatchingProducer,
    admin: {
      fetchOffsets: async () => [{ topic: topics.partials, partitions: [{ partition: 0, offset: '-1', metadata: null }] }],
      fetchTopicMetadata: async () => ({ topics: [topics.readings, topics.sightings].map((name) => ({ name, partitions: [{ partitionId: 0 }] })) }),
    } as unknown as Pick<Admin, 'fetchOffsets' | 'fetchTopicMetadata'>,
    groupId: 'a-new-group-releaser',
    topics,
    ledgerTopic: {
      log,
      catchUp: async () => undefined,
      claim: async (c) => {
        if (failClaims-- > 0) throw new Error('the release ledger was not read up to offset 1 within 120000 ms (a claim); releasing nothing');
        events.push(`claim ${Object.entries(c.releasedUpTo).find(([s]) => s === 'sightings:wifi')?.[1]}`);
        return log.apply(log.position(), c);
      },
    },
    fingerprint: noiseKeyFingerprint(key),
    metrics,
    logger,
    clock: { now: () => T0 + 10 * WINDOW },
    noise: createNoiseSource(key),
  });
  async function feed(partials: WindowPartialRecord[]): Promise<void> {
    const batch = { topic: topics.partials, partition: 0, messages: partials.map((p, i) => ({ offset: String(i), value: Buffer.from(JSON.stringify(p)) })) };
    await runner.eachBatch({
      batch,
      resolveOffset: () => undefined,
      heartbeat: async () => undefined,
      isRunning: () => true,
      isStale: () => false,
    } as unknown as EachBatchPayload);
  }
  async function start(): Promise<void> {
    runner.assigned({ [topics.partials]: [0] });
    for (let i = 0; i < 100 && !runner.isActive(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(runner.isActive()).toBe(true);
  }
  const withheld = async () => (await registry.getSingleMetric('lethe_processor_windows_withheld_total')!.get()).values.reduce((n, v) => n + v.value, 0);
  return { runner, events, log, commits, feed, start, withheld };
}

describe('the releaser and the release ledger', () => {
  it('claims a release on the ledger before it sends any of its aggregates', async () => {
    const r = setup();
    await r.start();
    await r.feed([0, 1, 2].map(partial));
    await r.runner.tick();
    expect(r.events).toEqual([`claim ${T0 + 3 * WINDOW}`, expect.stringMatching(/^aggregates ×\d+$/)]);
    expect(r.commits).toHaveLength(1);
    expect(await r.withheld()).toBe(0);
  });

  it('withholds the windows claimed first under another noise key, sends the rest, and still moves on', async () => {
    const other = noiseKeyFingerprint(randomBytes(32));
    const r = setup();
    await r.start();
    await r.feed([0, 1, 2].map(partial));
    // Another releaser (another group, another key) claimed window 0 after this one read the ledger.
    r.log.apply(r.log.position(), { fingerprint: other, at: T0, releasedUpTo: { 'sightings:wifi': T0 + WINDOW }, ledger: [] });
    await r.runner.tick();
    // Window 0 is the other's; windows 1 and 2, first claimed here, are sent (each window under one key).
    expect(r.events).toEqual([`claim ${T0 + 3 * WINDOW}`, expect.stringMatching(/^aggregates ×\d+$/)]);
    expect(await r.withheld()).toBe(1);
    // The partials are committed as done: nothing of them is released by this releaser later.
    expect(JSON.parse(r.commits[0]!).releasedUpTo['sightings:wifi']).toBe(T0 + 3 * WINDOW);
  });

  it('under a new consumer group, restores from the ledger: windows claimed under another key are not released again', async () => {
    const first = randomBytes(32);
    const claimed: ReleaseClaim = { fingerprint: noiseKeyFingerprint(first), at: T0, releasedUpTo: { 'sightings:wifi': T0 + 2 * WINDOW }, ledger: [] };
    const r = setup({ before: [claimed] });
    await r.start();
    await r.feed([0, 1, 2].map(partial));
    await r.runner.tick();
    // Only window 2 is new; windows 0 and 1 are replays.
    expect(r.events).toEqual([`claim ${T0 + 3 * WINDOW}`, expect.stringMatching(/^aggregates ×\d+$/)]);
    const again = setup({ before: [claimed], key: first });
    await again.start();
    await again.feed([0, 1, 2].map(partial));
    await again.runner.tick();
    // Under the key that claimed them, windows 0 and 1 may be sent again: the same figures.
    expect(again.events).toEqual([`claim ${T0 + 3 * WINDOW}`, expect.stringMatching(/^aggregates ×\d+$/)]);
    const count = (events: string[]) => Number(/×(\d+)/.exec(events[1]!)![1]);
    expect(count(again.events)).toBeGreaterThan(count(r.events));
  });
});

describe("the releaser's Kafka runner", () => {
  it('commits the partials only once their aggregates are in Kafka: a failed send is thrown and commits nothing, and the next tick sends them and commits', async () => {
    const r = setup({ failSends: 1 });
    await r.start();
    await r.feed([0, 1, 2].map(partial));
    await expect(r.runner.tick()).rejects.toThrow('Kafka did not acknowledge');
    expect(r.events).toEqual([`claim ${T0 + 3 * WINDOW}`]);
    expect(r.commits).toEqual([]);
    await r.runner.tick();
    // The same release, not claimed again: its aggregates, then the commit.
    expect(r.events).toEqual([`claim ${T0 + 3 * WINDOW}`, expect.stringMatching(/^aggregates ×\d+$/)]);
    expect(r.commits).toHaveLength(1);
  });

  it('sends nothing when its claim fails, and claims the same release again at the next tick before sending it', async () => {
    const r = setup({ failClaims: 1 });
    await r.start();
    await r.feed([0, 1, 2].map(partial));
    await expect(r.runner.tick()).rejects.toThrow('releasing nothing');
    expect(r.events).toEqual([]);
    expect(r.commits).toEqual([]);
    await r.runner.tick();
    expect(r.events).toEqual([`claim ${T0 + 3 * WINDOW}`, expect.stringMatching(/^aggregates ×\d+$/)]);
    expect(r.commits).toHaveLength(1);
  });

  it('stands by while another instance holds the partials partition: its batches and ticks do nothing', async () => {
    const r = setup();
    r.runner.assigned({ [topics.partials]: [] });
    await r.feed([0, 1, 2].map(partial));
    await r.runner.tick();
    expect(r.runner.isActive()).toBe(false);
    expect(r.events).toEqual([]);
    expect(r.commits).toEqual([]);
  });
});
