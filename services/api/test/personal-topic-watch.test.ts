import { createMemoryAuditLog } from '@lethe/audit';
import { createLogger } from '@lethe/observability';
import { describe, expect, it } from 'vitest';
import { createPersonalTopicWatch, type WatchAdmin } from '../src/personal-topic-watch.ts';

const NOW = Date.UTC(2025, 5, 2, 10, 0, 0);
const MIN = 60_000;
const LIMIT = 17 * MIN;
const PERIOD = 15 * MIN;
const logger = createLogger({ service: 'test', level: 'silent' });

/** A broker's view of partitions: record timestamps by offset and a low watermark; never any value. */
function fakeAdmin(partitions: Record<string, Array<{ timestamps: number[]; low: number }>>) {
  let calls = 0;
  const admin: WatchAdmin = {
    fetchTopicOffsets: async (topic: string) =>
      (partitions[topic] ?? []).map((p, partition) => ({
        partition,
        offset: String(p.timestamps.length),
        high: String(p.timestamps.length),
        low: String(p.low),
      })),
    // Kafka's ListOffsets by time: the earliest offset whose timestamp is ≥ ts, else the high watermark.
    fetchTopicOffsetsByTimestamp: async (topic: string, ts?: number) => {
      calls++;
      return (partitions[topic] ?? []).map((p, partition) => {
        let found = p.timestamps.length;
        for (let o = p.low; o < p.timestamps.length; o++) {
          if (p.timestamps[o]! >= ts!) {
            found = o;
            break;
          }
        }
        return { partition, offset: String(found) };
      });
    },
  };
  return { admin, calls: () => calls };
}

const watchOf = (admin: WatchAdmin, topics: string[], clock: { t: number }, audit = createMemoryAuditLog()) =>
  createPersonalTopicWatch({ admin, topics, audit, intervalMs: 30_000, periodMs: PERIOD, limitMs: LIMIT, logger, now: () => clock.t });

describe('the personal-topic watch', () => {
  it('checks every record against the limit from offsets alone (an empty topic passes) and searches a watermark once', async () => {
    const timestamps = [NOW - 20 * MIN, NOW - 14 * MIN - 123, NOW - 10 * MIN, NOW - 1000];
    const parts = { 'lethe.sightings.v1': [{ timestamps, low: 1 }], 'lethe.rejected.v1': [{ timestamps: [], low: 0 }] };
    const { admin, calls } = fakeAdmin(parts);
    const clock = { t: NOW };
    const outcomes: string[] = [];
    const watch = createPersonalTopicWatch({
      admin,
      topics: ['lethe.sightings.v1', 'lethe.rejected.v1'],
      audit: createMemoryAuditLog(),
      intervalMs: 30_000,
      periodMs: PERIOD,
      limitMs: LIMIT,
      logger,
      now: () => clock.t,
      onCheck: (t, o) => outcomes.push(`${t} ${o}`),
    });
    await watch.runSlot(NOW);
    const used = calls();
    expect(used).toBeGreaterThan(0);
    // 14 min old at NOW: within; the same record 3 min later is 17 min + 123 ms old, past the limit.
    clock.t = NOW + 3 * MIN;
    await watch.runSlot(NOW + 3 * MIN);
    expect(calls()).toBe(used); // same watermark: no new search
    expect(watch.between(NOW, NOW + 4 * MIN)).toEqual([
      {
        slot: NOW,
        topics: [
          { topic: 'lethe.sightings.v1', withinLimit: true },
          { topic: 'lethe.rejected.v1', withinLimit: true },
        ],
      },
      {
        slot: NOW + 3 * MIN,
        topics: [
          { topic: 'lethe.sightings.v1', withinLimit: false },
          { topic: 'lethe.rejected.v1', withinLimit: true },
        ],
      },
    ]);
    expect(outcomes).toEqual([
      'lethe.sightings.v1 within_limit',
      'lethe.rejected.v1 within_limit',
      'lethe.sightings.v1 over_limit',
      'lethe.rejected.v1 within_limit',
    ]);
  });

  it('attests each period once, stamped with its end, with the same events whether a topic was empty or held and deleted records', async () => {
    // Two worlds over the same schedule: in one nobody was seen, in the other records came and
    // were deleted (the watermark moved). Their audit logs must be identical (P9).
    const logs = [];
    for (const busy of [false, true]) {
      const parts = { 'lethe.sightings.v1': [{ timestamps: busy ? [NOW - 2 * MIN, NOW - MIN, NOW + 20 * MIN] : [], low: 0 }] };
      const { admin } = fakeAdmin(parts);
      const clock = { t: NOW };
      const audit = createMemoryAuditLog();
      const watch = watchOf(admin, ['lethe.sightings.v1'], clock, audit);
      for (let slot = NOW; slot < NOW + 2 * PERIOD + MIN; slot += 30_000) {
        clock.t = slot + (busy ? 700 : 3); // a check with records to look at takes longer
        if (busy && slot === NOW + 14 * MIN) parts['lethe.sightings.v1'][0]!.low = 2;
        await watch.runSlot(slot);
      }
      logs.push(await audit.records());
    }
    const [quiet, busy] = logs;
    expect(busy).toEqual(quiet);
    expect(quiet!.map((r) => [r.type, r.at])).toEqual([
      ['retention.deleted', NOW + PERIOD],
      ['retention.deleted', NOW + 2 * PERIOD],
    ]);
    expect(quiet![0]!.data).toEqual({
      topic: 'lethe.sightings.v1',
      periodStart: new Date(NOW).toISOString(),
      periodEnd: new Date(NOW + PERIOD).toISOString(),
      limitSeconds: LIMIT / 1000,
      checks: 30,
      failedChecks: 0,
      withinLimit: true,
      observedBy: 'scheduled-check',
    });
  });

  it('writes the attestation before it runs the first check of the next period', async () => {
    const order: string[] = [];
    const audit = createMemoryAuditLog();
    const appendTo = { append: async (e: Parameters<typeof audit.append>[0]) => (order.push('attest'), audit.append(e)) };
    const { admin } = fakeAdmin({ 'lethe.sightings.v1': [{ timestamps: [], low: 0 }] });
    const checked: WatchAdmin = { ...admin, fetchTopicOffsets: async (t) => (order.push('check'), admin.fetchTopicOffsets(t)) };
    const watch = createPersonalTopicWatch({
      admin: checked,
      topics: ['lethe.sightings.v1'],
      audit: appendTo,
      intervalMs: 30_000,
      periodMs: PERIOD,
      limitMs: LIMIT,
      logger,
      now: () => NOW,
    });
    await watch.runSlot(NOW + PERIOD - 30_000);
    await watch.runSlot(NOW + PERIOD);
    expect(order).toEqual(['check', 'attest', 'check']);
    // The first period was seen for one check only (the watch started late in it), and says so.
    expect((await audit.records())[0]!.data).toMatchObject({ checks: 1, withinLimit: true });
  });

  it('keeps checking the other topics when one cannot be read, and attests that check as failed', async () => {
    const { admin } = fakeAdmin({ 'lethe.rejected.v1': [{ timestamps: [NOW - 1000], low: 0 }] });
    const failing: WatchAdmin = {
      ...admin,
      fetchTopicOffsets: async (topic) => (topic === 'lethe.sightings.v1' ? Promise.reject(new Error('unknown topic')) : admin.fetchTopicOffsets(topic)),
    };
    const audit = createMemoryAuditLog();
    const watch = watchOf(failing, ['lethe.sightings.v1', 'lethe.rejected.v1'], { t: NOW }, audit);
    await watch.runSlot(NOW);
    expect(watch.between(NOW, NOW + 1)[0]!.topics).toEqual([
      { topic: 'lethe.sightings.v1', withinLimit: null },
      { topic: 'lethe.rejected.v1', withinLimit: true },
    ]);
    await watch.runSlot(NOW + PERIOD);
    expect((await audit.records()).map((r) => [r.data.topic, r.data.failedChecks, r.data.withinLimit])).toEqual([
      ['lethe.sightings.v1', 1, null],
      ['lethe.rejected.v1', 0, true],
    ]);
  });

  it('refreshes the topics’ replication at every check, before the personal topics, and a failed refresh fails no check', async () => {
    const order: string[] = [];
    const { admin } = fakeAdmin({ 'lethe.sightings.v1': [{ timestamps: [NOW - 1000], low: 0 }] });
    const checked: WatchAdmin = { ...admin, fetchTopicOffsets: async (t) => (order.push('check'), admin.fetchTopicOffsets(t)) };
    let fail = false;
    const replication = {
      refresh: async () => {
        order.push('replication');
        if (fail) throw new Error('brokers unreachable');
      },
    };
    const outcomes: string[] = [];
    const watch = createPersonalTopicWatch({
      admin: checked,
      topics: ['lethe.sightings.v1'],
      audit: createMemoryAuditLog(),
      intervalMs: 30_000,
      periodMs: PERIOD,
      limitMs: LIMIT,
      logger,
      now: () => NOW,
      onCheck: (_t, o) => outcomes.push(o),
      replication,
    });
    await watch.runSlot(NOW);
    fail = true;
    await watch.runSlot(NOW + 30_000);
    expect(order).toEqual(['replication', 'check', 'replication', 'check']);
    expect(outcomes).toEqual(['within_limit', 'within_limit']);
  });
});
