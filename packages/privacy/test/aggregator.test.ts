import { describe, expect, it } from 'vitest';
import { createAggregator } from '../src/aggregator.ts';
import { ManualClock } from '../src/clock.ts';
import { createBudgetLedger } from '../src/ledger.ts';
import { createNoiseSource } from '../src/noise.ts';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../src/policy.ts';
import { phoneSighting as sighting, readingRecord as reading } from './support/records.ts';

const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const policy = loadPolicy(DEFAULT_POLICY_PATH);
const noise = createNoiseSource(Buffer.alloc(32, 7));

const aggregator = (clock: ManualClock) => createAggregator({ policy, clock, graceMs: 5_000, noise, ledger: createBudgetLedger() });

describe('the windowed aggregator', () => {
  it('summarizes a window per device once it closes, counting redelivered readings once', () => {
    const clock = new ManualClock(T0 + 30_000);
    const agg = aggregator(clock);
    expect(agg.addReading(reading(0, T0 + 1_000, { levelCm: 10, overflow: false }))).toBe('accepted');
    expect(agg.addReading(reading(1, T0 + 2_000, { levelCm: 30, overflow: true }))).toBe('accepted');
    expect(agg.addReading(reading(1, T0 + 2_000, { levelCm: 30, overflow: true }))).toBe('duplicate');
    // The window before T0 closes: nothing of the sewer, only the privacy records every window has.
    expect(agg.closeDue(T0 + 64_000).records.filter((r) => r.measurement !== 'privacy')).toEqual([]);
    const [point] = agg.closeDue(T0 + 65_000).records.filter((r) => r.measurement === 'sewer');
    expect(point).toMatchObject({ measurement: 'sewer', tags: { district: 'north', device: 'SW-0001' }, windowStart: T0, windowEnd: T0 + 60_000 });
    expect(point!.fields).toMatchObject({ readings: 2, level_cm_mean: 20, level_cm_max: 30, overflow_count_true: 1 });
  });

  it('releases person-derived reading counts only through the anonymizer: k-suppressed and noised', () => {
    const clock = new ManualClock(T0 + 30_000);
    const agg = aggregator(clock);
    agg.addReading(reading(0, T0 + 1_000, { vehicleCount: 40, phase: 'red' }, 'TL-0001', 'traffic-light'));
    agg.addReading(reading(0, T0 + 1_000, { vehicleCount: 3, phase: 'red' }, 'TL-0002', 'traffic-light'));
    const { records, reports } = agg.closeDue(T0 + 65_000);
    const env = records.filter((r) => r.measurement === 'traffic_light' && 'readings' in r.fields);
    expect(env.map((r) => r.tags.scope)).toEqual(['device', 'device', 'district']);
    expect(env[2]!.fields).toMatchObject({ readings: 2 });
    for (const r of env) expect(r.fields).not.toHaveProperty('vehicle_count_sum');
    const counts = records.filter((r) => r.measurement === 'traffic_light' && 'vehicle_count_sum' in r.fields);
    expect(counts.map((r) => r.tags.device)).toEqual(['TL-0001']);
    expect(Math.abs(counts[0]!.fields.vehicle_count_sum! - 40)).toBeLessThan(20);
    expect(reports.find((r) => r.stream === 'traffic_light.vehicle_count_sum')).toEqual(
      expect.objectContaining({ outcome: 'granted', released: 1, suppressed: { below_k: 1, differencing: 0, budget: 0 } }),
    );
    // The privacy record says what the schedule and the released figures say, never how many were suppressed.
    const privacy = records.find((r) => r.measurement === 'privacy' && r.tags.stream === 'traffic_light.vehicle_count_sum');
    expect(privacy?.fields).toEqual({ epsilon_spent_today: 1, epsilon_budget_today: 1440, epsilon_this_release: 1, released: 1 });
  });

  it('publishes a presence-dependent field only as a noisy district mean, clamped to its range', () => {
    const clock = new ManualClock(T0 + 30_000);
    const agg = aggregator(clock);
    for (let seq = 0; seq < 12; seq++) {
      agg.addReading(reading(seq, T0 + seq * 5_000, { dimmingPct: 42, pm25: 10 }, 'LP-0001', 'lamppost'));
      agg.addReading(reading(seq, T0 + seq * 5_000, { dimmingPct: 140, pm25: 20 }, 'LP-0002', 'lamppost'));
    }
    const { records } = agg.closeDue(T0 + 65_000);
    const lamps = records.filter((r) => r.measurement === 'lamppost');
    for (const r of lamps) if (r.tags.scope === 'device') expect(r.fields, r.tags.device).not.toHaveProperty('dimming_pct_mean');
    const district = lamps.filter((r) => r.tags.scope === 'district' && 'dimming_pct_mean' in r.fields);
    expect(district).toHaveLength(1);
    // True mean of the clamped readings: (42 + 100) / 2 = 71; noise of scale 2·1.1/ε·2 (two fields share ε) is far below 30.
    const dimming = district[0]!.fields.dimming_pct_mean!;
    expect(dimming).toBeGreaterThanOrEqual(0);
    expect(dimming).toBeLessThanOrEqual(100);
    expect(Math.abs(dimming - 71)).toBeLessThan(30);
    expect(records.find((r) => r.measurement === 'privacy' && r.tags.stream === 'lamppost.presence')?.fields).toMatchObject({ epsilon_this_release: 1 });
  });

  it('counts people per cell, suppresses cells under k, and forgets every pseudonym when the epoch ends', () => {
    const clock = new ManualClock(T0 + 30_000);
    const agg = aggregator(clock);
    for (let p = 0; p < 8; p++) agg.addSighting(sighting(`crowd${p}`, T0 + 1_000));
    for (let p = 0; p < 2; p++) agg.addSighting(sighting(`pair${p}`, T0 + 1_000, 'LP-0002'));
    expect(agg.addSighting(sighting('crowd0', T0 + 1_000))).toBe('duplicate');
    expect(agg.pseudonymsHeld()).toBe(10);
    const { records } = agg.closeDue(T0 + 65_000);
    const pedestrians = records.filter((r) => r.measurement === 'pedestrians');
    // LP-0002 holds 2 < k people: suppressed, and then the district total (10) would expose it.
    expect(pedestrians.map((r) => r.tags)).toEqual([{ scope: 'cell', district: 'north', device: 'LP-0001' }]);
    // Per-person state stays until the epoch ends (dwell times need it), then it is gone.
    expect(agg.pseudonymsHeld()).toBe(10);
    agg.closeDue(T0 + policy.kinds.lamppost.epoch + 5_000);
    expect(agg.pseudonymsHeld()).toBe(0);
    expect(agg.openWindows()).toBe(0);
  });

  it('refuses records for windows already emitted, and records older than the raw-data TTL', () => {
    const clock = new ManualClock(T0 + 120_000);
    const agg = aggregator(clock);
    agg.closeDue();
    expect(agg.addReading(reading(5, T0 + 10_000, { levelCm: 1 }))).toBe('late');
    expect(agg.addReading(reading(6, T0 + 120_000 - policy.rawData.ttl - 1, { levelCm: 1 }))).toBe('expired');
    expect(agg.addSighting(sighting('old', T0 + 120_000 - policy.rawData.ttl - 1))).toBe('expired');
  });

  it('after a restart rebuilds an epoch from replayed sightings without re-releasing its emitted windows', () => {
    const clock = new ManualClock(T0 + 30_000);
    const first = aggregator(clock);
    for (let p = 0; p < 6; p++) first.addSighting(sighting(`p${p}`, T0 + 1_000));
    // The district total adds nobody beyond the cell: not released (P9, anonymizer.ts).
    expect(
      first
        .closeDue(T0 + 65_000)
        .records.filter((r) => r.measurement === 'pedestrians')
        .map((r) => r.tags.scope),
    ).toEqual(['cell']);

    const second = aggregator(clock);
    second.restoreClosedUpTo(first.closedUpTo);
    for (let p = 0; p < 6; p++) expect(second.addSighting(sighting(`p${p}`, T0 + 1_000))).toBe('accepted');
    expect(second.closeDue(T0 + 66_000).records.filter((r) => r.measurement === 'pedestrians')).toEqual([]);
    expect(second.pseudonymsHeld()).toBe(6);
  });
});
