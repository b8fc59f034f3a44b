import type { ReadingRecord, SightingRecord } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { createAggregator } from '../src/aggregator.ts';
import { ManualClock } from '../src/clock.ts';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../src/policy.ts';

const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const policy = loadPolicy(DEFAULT_POLICY_PATH);

const reading = (seq: number, ts: number, values: ReadingRecord['values']): ReadingRecord => ({ v: 1, kind: 'sewer', deviceId: 'SW-0001', district: 'north', seq, ts, values });
const sighting = (seq: number, index: number, pseudonym: string, ts: number): SightingRecord => ({
  v: 1, source: 'wifi', pseudonym, epoch: 0, kind: 'lamppost', deviceId: 'LP-0001', district: 'north', seq, index, ts,
});

describe('the windowed aggregator', () => {
  it('summarizes a window per device once it closes, counting redelivered readings once', () => {
    const clock = new ManualClock(T0 + 30_000);
    const agg = createAggregator({ policy, clock, graceMs: 5_000 });
    expect(agg.addReading(reading(0, T0 + 1_000, { levelCm: 10, overflow: false }))).toBe('accepted');
    expect(agg.addReading(reading(1, T0 + 2_000, { levelCm: 30, overflow: true }))).toBe('accepted');
    expect(agg.addReading(reading(1, T0 + 2_000, { levelCm: 30, overflow: true }))).toBe('duplicate');
    expect(agg.closeDue(T0 + 64_000)).toEqual([]);
    const [point] = agg.closeDue(T0 + 65_000);
    expect(point).toMatchObject({ measurement: 'sewer', tags: { district: 'north', device: 'SW-0001' }, windowStart: T0, windowEnd: T0 + 60_000 });
    expect(point!.fields).toMatchObject({ readings: 2, level_cm_mean: 20, level_cm_max: 30, overflow_count_true: 1 });
  });

  it('counts distinct pseudonyms and then forgets them when the window closes', () => {
    const clock = new ManualClock(T0 + 30_000);
    const agg = createAggregator({ policy, clock });
    agg.addSighting(sighting(0, 0, 'aaaaaaaaaaaaaaaaaaaaaa', T0 + 1_000));
    agg.addSighting(sighting(0, 1, 'bbbbbbbbbbbbbbbbbbbbbb', T0 + 1_000));
    agg.addSighting(sighting(1, 0, 'aaaaaaaaaaaaaaaaaaaaaa', T0 + 5_000));
    expect(agg.pseudonymsHeld()).toBe(2);
    const [point] = agg.closeDue(T0 + 120_000);
    expect(point).toMatchObject({ measurement: 'pedestrians', fields: { distinct: 2, sightings: 3 } });
    expect(agg.pseudonymsHeld()).toBe(0);
    expect(agg.openWindows()).toBe(0);
  });

  it('refuses records for windows already emitted, and records older than the raw-data TTL', () => {
    const clock = new ManualClock(T0 + 120_000);
    const agg = createAggregator({ policy, clock });
    agg.closeDue();
    expect(agg.addReading(reading(5, T0 + 10_000, { levelCm: 1 }))).toBe('late');
    expect(agg.addReading(reading(6, T0 + 120_000 - policy.rawData.ttl - 1, { levelCm: 1 }))).toBe('expired');
  });
});
