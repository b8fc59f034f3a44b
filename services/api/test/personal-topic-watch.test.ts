import { createMemoryAuditLog } from '@lethe/audit';
import { createLogger } from '@lethe/observability';
import { describe, expect, it } from 'vitest';
import { createPersonalTopicWatch, type WatchAdmin } from '../src/personal-topic-watch.ts';

const NOW = Date.UTC(2025, 5, 2, 10, 0, 0);
const logger = createLogger({ service: 'test', level: 'silent' });

/** A broker's view of partitions: record timestamps by offset and a low watermark; never any value. */
function fakeAdmin(partitions: Record<string, Array<{ timestamps: number[]; low: number }>>) {
  let calls = 0;
  const admin: WatchAdmin = {
    fetchTopicOffsets: async (topic: string) =>
      (partitions[topic] ?? []).map((p, partition) => ({ partition, offset: String(p.timestamps.length), high: String(p.timestamps.length), low: String(p.low) })),
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

describe('the personal-topic watch', () => {
  it('finds the oldest record timestamp from offsets alone, rounded down to a second, and caches it', async () => {
    const timestamps = [NOW - 20 * 60_000, NOW - 14 * 60_000 - 123, NOW - 10 * 60_000, NOW - 1000];
    const { admin, calls } = fakeAdmin({ 'lethe.sightings.v1': [{ timestamps, low: 1 }], 'lethe.rejected.v1': [{ timestamps: [], low: 0 }] });
    const audit = createMemoryAuditLog();
    const ages: Array<[string, number | null]> = [];
    const watch = createPersonalTopicWatch({ admin, topics: ['lethe.sightings.v1', 'lethe.rejected.v1'], audit, intervalMs: 1000, logger, now: () => NOW, onAges: (t, a) => ages.push([t, a]) });
    await watch.poll();
    const [sightings, rejected] = watch.current();
    expect(sightings!.oldestRecordAt).toBeLessThanOrEqual(timestamps[1]!);
    expect(timestamps[1]! - sightings!.oldestRecordAt!).toBeLessThan(1000);
    expect(rejected).toMatchObject({ topic: 'lethe.rejected.v1', oldestRecordAt: null });
    expect(ages[0]![1]).toBeGreaterThanOrEqual(14 * 60);
    expect(ages[1]).toEqual(['lethe.rejected.v1', null]);
    const used = calls();
    await watch.poll();
    expect(calls()).toBe(used); // same watermark: no search
  });

  it('records a retention.deleted event when a watermark moves, and resumes from the log after a restart', async () => {
    const parts = { 'lethe.sightings.v1': [{ timestamps: [NOW - 30 * 60_000, NOW - 20 * 60_000, NOW - 5 * 60_000], low: 0 }] };
    const { admin } = fakeAdmin(parts);
    const audit = createMemoryAuditLog();
    const watch = createPersonalTopicWatch({ admin, topics: ['lethe.sightings.v1'], audit, intervalMs: 1000, logger, now: () => NOW });
    await watch.poll();
    expect(await audit.records()).toEqual([]);
    parts['lethe.sightings.v1'][0]!.low = 2;
    await watch.poll();
    const [event] = await audit.records();
    expect(event).toMatchObject({ type: 'retention.deleted', actor: 'api', data: { topic: 'lethe.sightings.v1', partition: 0, fromOffset: 0, toOffset: 2, records: 2, observedBy: 'low-watermark' } });
    expect(Date.parse(event!.data.oldestRemainingAt as string)).toBeLessThanOrEqual(NOW - 5 * 60_000);

    // A new process with the same log does not record the same deletion again.
    const again = createPersonalTopicWatch({ admin, topics: ['lethe.sightings.v1'], audit, intervalMs: 1000, logger, now: () => NOW });
    await again.poll();
    expect(await audit.records()).toHaveLength(1);
    parts['lethe.sightings.v1'][0]!.low = 3;
    await again.poll();
    expect((await audit.records()).map((r) => [r.data.fromOffset, r.data.toOffset, r.data.oldestRemainingAt])).toEqual([
      [0, 2, expect.any(String)],
      [2, 3, null],
    ]);
  });

  it('keeps watching the other topics when one cannot be read', async () => {
    const { admin } = fakeAdmin({ 'lethe.rejected.v1': [{ timestamps: [NOW - 1000], low: 0 }] });
    const failing: WatchAdmin = { ...admin, fetchTopicOffsets: async (topic) => (topic === 'lethe.sightings.v1' ? Promise.reject(new Error('unknown topic')) : admin.fetchTopicOffsets(topic)) };
    const watch = createPersonalTopicWatch({ admin: failing, topics: ['lethe.sightings.v1', 'lethe.rejected.v1'], audit: createMemoryAuditLog(), intervalMs: 1000, logger, now: () => NOW });
    await watch.poll();
    expect(watch.current().map((a) => a.topic)).toEqual(['lethe.rejected.v1']);
  });
});
