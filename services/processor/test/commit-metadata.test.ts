import type { LedgerEntry } from '@lethe/privacy';
import { describe, expect, it } from 'vitest';
import { decodeReleaserMetadata, decodeStageMetadata, encodeReleaserMetadata, encodeStageMetadata, METADATA_LIMIT_BYTES } from '../src/commit-metadata.ts';
import { stageCutoff } from '../src/processor.ts';

const entry = (stream: string, day: string, lastWindowStart: number): LedgerEntry => ({
  stream,
  day,
  spent: 100,
  budget: 1440,
  releases: 100,
  refused: 0,
  lastWindowStart,
});

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
    const releasedUpTo = Object.fromEntries(
      ['readings:lamppost', 'readings:traffic-light', 'readings:sewer', 'sightings:wifi', 'sightings:plate', 'dwell:wifi'].map((s) => [s, 1_767_254_400_000]),
    );
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
  const at = { now: 100_000, graceMs: 5_000, maxWaitMs: 60_000 };
  it('follows event time: the grace behind the newest record, its own while it works through a backlog', () => {
    expect(stageCutoff({ ...at, caughtUp: true, newest: 99_000 })).toBe(94_000);
    expect(stageCutoff({ ...at, caughtUp: false, newest: 20_000 })).toBe(15_000);
    expect(stageCutoff({ ...at, caughtUp: false, newest: -Infinity })).toBe(-Infinity);
    // A record stamped in the future never closes windows ahead of the clock.
    expect(stageCutoff({ ...at, caughtUp: false, newest: 130_000 })).toBe(95_000);
    expect(stageCutoff({ ...at, caughtUp: true, newest: 130_000 })).toBe(95_000);
  });

  it('waits for input that stopped, caught up, until the newest record is maxWait old; then follows the clock', () => {
    // Input stopped 30 s ago (an upstream outage): windows wait, readings held up upstream are not late.
    expect(stageCutoff({ ...at, caughtUp: true, newest: 70_000 })).toBe(65_000);
    // Stopped for longer than maxWait: the clock closes windows.
    expect(stageCutoff({ ...at, caughtUp: true, newest: 10_000 })).toBe(40_000);
    expect(stageCutoff({ ...at, caughtUp: true, newest: -Infinity })).toBe(40_000);
    // A backlog is never closed by the clock: replayed records would all be late.
    expect(stageCutoff({ ...at, caughtUp: false, newest: 10_000 })).toBe(5_000);
    // maxWait shorter than the grace: the grace still holds.
    expect(stageCutoff({ ...at, maxWaitMs: 1_000, caughtUp: true, newest: -Infinity })).toBe(95_000);
  });
});
