import type { LedgerEntry } from '@lethe/privacy';
import { describe, expect, it } from 'vitest';
import { decodeReleaserMetadata, decodeStageMetadata, encodeReleaserMetadata, encodeStageMetadata, METADATA_LIMIT_BYTES } from '../src/commit-metadata.ts';
import { stageCutoff } from '../src/processor.ts';

const entry = (stream: string, day: string, lastWindowStart: number): LedgerEntry => ({ stream, day, spent: 100, budget: 1440, releases: 100, refused: 0, lastWindowStart });

describe('commit metadata', () => {
  it('round-trips stage 1 and releaser state, and reads anything else as a fresh start', () => {
    expect(decodeStageMetadata(encodeStageMetadata({ closedUpTo: 123 }))).toEqual({ closedUpTo: 123 });
    const releaser = { releasedUpTo: { 'readings:sewer': 60_000, 'dwell:wifi': 900_000 }, ledger: [entry('pedestrians', '2026-01-01', 5)] };
    expect(decodeReleaserMetadata(encodeReleaserMetadata(releaser))).toEqual(releaser);
    for (const bad of [null, '', 'not json', '[1]', '{"closedUpTo":"x"}']) {
      expect(decodeStageMetadata(bad)).toEqual({ closedUpTo: 0 });
      expect(decodeReleaserMetadata(bad)).toEqual({ releasedUpTo: {}, ledger: [] });
    }
  });

  it('stays under Kafka’s 4 KiB metadata limit, dropping the oldest ledger days first', () => {
    const streams = ['pedestrians', 'vehicles', 'travel_times', 'dwell', 'traffic_light.vehicle_count_sum'];
    const releasedUpTo = Object.fromEntries(['readings:lamppost', 'readings:traffic-light', 'readings:sewer', 'sightings:wifi', 'sightings:plate', 'dwell:wifi'].map((s) => [s, 1_767_254_400_000]));
    const normal = encodeReleaserMetadata({ releasedUpTo, ledger: streams.flatMap((s) => [entry(s, '2026-01-01', 1), entry(s, '2026-01-02', 2)]) });
    expect(Buffer.byteLength(normal)).toBeLessThan(METADATA_LIMIT_BYTES / 2);
    const many = Array.from({ length: 60 }, (_, i) => [entry(`stream_${i}`, '2026-01-01', i), entry(`stream_${i}`, '2026-01-02', i)]).flat();
    const text = encodeReleaserMetadata({ releasedUpTo, ledger: many });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(METADATA_LIMIT_BYTES);
    const kept = decodeReleaserMetadata(text);
    expect(kept.releasedUpTo).toEqual(releasedUpTo);
    expect(kept.ledger.every((e) => e.day === '2026-01-02')).toBe(true);
  });
});

describe('when stage 1 closes a partition’s windows', () => {
  it('follows the wall clock once caught up, and the partition’s own event time while it works through a backlog', () => {
    expect(stageCutoff({ now: 100_000, graceMs: 5_000, caughtUp: true, newest: 20_000 })).toBe(95_000);
    expect(stageCutoff({ now: 100_000, graceMs: 5_000, caughtUp: false, newest: 20_000 })).toBe(15_000);
    expect(stageCutoff({ now: 100_000, graceMs: 5_000, caughtUp: false, newest: -Infinity })).toBe(-Infinity);
    // A record stamped in the future never closes windows ahead of the clock.
    expect(stageCutoff({ now: 100_000, graceMs: 5_000, caughtUp: false, newest: 130_000 })).toBe(95_000);
  });
});
