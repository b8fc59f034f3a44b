import type { WindowPartialRecord } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { createPartialStage, partialSeries, seriesOf } from '../src/partials.ts';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../src/policy.ts';
import { phoneSighting as phone, readingRecord as reading } from './support/records.ts';
import { shortPolicy } from './support/synthetic-city.ts';

const policy = shortPolicy();
const W = policy.kinds.lamppost.window;
const EPOCH = policy.kinds.lamppost.epoch;
const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);

const windows = (partials: readonly WindowPartialRecord[], series: string) =>
  partials.filter((p) => seriesOf(p) === series).map((p) => [(p.windowStart - T0) / W, p.coversFrom === 0 ? 0 : (p.coversFrom - T0) / W]);

describe('stage 1: partials per input partition', () => {
  it('reports every window with records and the newest closed window of every series, empty or not; coversFrom spans the gaps', () => {
    const clock = new ManualClock(T0);
    const stage = createPartialStage({ policy, clock, input: { type: 'readings', topic: 'r', partition: 2 } });
    stage.addReading(reading(0, T0 + 1_000, { levelCm: 1.5, overflow: true }));
    stage.addReading(reading(1, T0 + 2 * W + 1_000, { levelCm: 2.5, overflow: false }));
    const partials = stage.closeDue(T0 + 3 * W);
    expect(new Set(partials.map(seriesOf))).toEqual(
      new Set(
        partialSeries(policy)
          .filter((s) => s.input === 'readings')
          .map((s) => s.id),
      ),
    );
    // Windows 0 and 2, the second spanning the empty window 1; the first covers everything before
    // it (a fresh partition has seen all the data there is).
    expect(windows(partials, 'readings:sewer')).toEqual([
      [0, 0],
      [2, 1],
    ]);
    expect(windows(partials, 'readings:lamppost')).toEqual([[2, 0]]);
    const first = partials.find((p) => seriesOf(p) === 'readings:sewer')!;
    expect(first).toMatchObject({
      topic: 'r',
      partition: 2,
      devices: [{ deviceId: 'SW-0001', readings: 1, numeric: { levelCm: { sum: 1.5, n: 1, min: 1.5, max: 1.5 } }, trues: { overflow: 1 }, counts: {} }],
    });
    expect(windows(stage.closeDue(T0 + 4 * W), 'readings:sewer')).toEqual([[3, 3]]);
    expect(stage.closeDue(T0 + 4 * W + 500)).toEqual([]);
    // An idle hour later: one partial per series, speaking for the whole hour.
    expect(windows(stage.closeDue(T0 + 4 * W + 3_600_000), 'readings:sewer')).toEqual([[4 + 3_600_000 / W - 1, 4]]);
  });

  it('after a restart continues where the previous owner stopped, without a gap or a second copy', () => {
    const clock = new ManualClock(T0);
    const stage = createPartialStage({ policy, clock, input: { type: 'readings', topic: 'r', partition: 0 } });
    stage.restore(T0 + 2 * W + 300);
    expect(stage.addReading(reading(0, T0 + W + 1_000, { levelCm: 1 }))).toBe('late');
    expect(windows(stage.closeDue(T0 + 4 * W), 'readings:sewer')).toEqual([[3, 2]]);
  });

  it('keeps person-derived reading fields apart, as counts to be released only through k and noise', () => {
    const stage = createPartialStage({ policy, clock: new ManualClock(T0), input: { type: 'readings', topic: 'r', partition: 0 } });
    stage.addReading({
      v: 1,
      kind: 'traffic-light',
      deviceId: 'TL-0001',
      district: 'east',
      seq: 0,
      ts: T0,
      values: { vehicleCount: 4, occupancyPct: 10, phase: 'red' },
    });
    stage.addReading({
      v: 1,
      kind: 'traffic-light',
      deviceId: 'TL-0001',
      district: 'east',
      seq: 1,
      ts: T0 + 1,
      values: { vehicleCount: 3, occupancyPct: 20, phase: 'green' },
    });
    const [partial] = stage.closeDue(T0 + W).filter((p) => seriesOf(p) === 'readings:traffic-light');
    expect(partial).toMatchObject({ devices: [{ readings: 2, counts: { vehicleCount: 7 }, numeric: { occupancyPct: { sum: 30, n: 2, min: 10, max: 20 } } }] });
    expect(JSON.stringify(partial)).not.toContain('vehicleCount":{');
  });

  it('sums a device’s readings to the same bits whatever order they arrive in (through another gateway, connection or shard)', () => {
    // Values whose floating-point sums depend on the order of the additions.
    const values = [27.3, 27.45, 27.525, 191.2, 0.1, 0.2, 0.7, 66.175, 190.65, 1e-3];
    expect(
      values.reduce((a, b) => a + b),
      'this input is order-sensitive in plain floats',
    ).not.toBe([...values].reverse().reduce((a, b) => a + b));
    const sums = [values, [...values].reverse(), [...values.slice(5), ...values.slice(0, 5)]].map((order) => {
      const stage = createPartialStage({ policy, clock: new ManualClock(T0), input: { type: 'readings', topic: 'r', partition: 0 } });
      order.forEach((levelCm, i) => stage.addReading(reading(values.indexOf(levelCm), T0 + 1_000 + i, { levelCm })));
      const partial = stage.closeDue(T0 + W).find((p) => seriesOf(p) === 'readings:sewer') as WindowPartialRecord & { type: 'readings' };
      return partial.devices[0]!.numeric.levelCm;
    });
    expect(sums[1]).toEqual(sums[0]);
    expect(sums[2]).toEqual(sums[0]);
    expect(sums[0]!.sum).toBeCloseTo(
      values.reduce((a, b) => a + b),
      9,
    );
  });

  it('counts people per cell, emits their dwell buckets when the epoch ends, and then holds no pseudonym', () => {
    const clock = new ManualClock(T0);
    const stage = createPartialStage({ policy, clock, input: { type: 'sightings', topic: 's', partition: 1 } });
    for (let p = 0; p < 6; p++) stage.addSighting(phone(`p${p}`, T0 + 1_000, 'LP-0001'));
    stage.addSighting(phone('p0', T0 + 2 * W, 'LP-0001'));
    expect(stage.addSighting(phone('p1', T0 + 1_000, 'LP-0001'))).toBe('duplicate');
    expect(stage.pseudonymsHeld()).toBe(6);
    const early = stage.closeDue(T0 + W);
    // The epoch before: empty, and speaking for everything before it (a fresh partition).
    expect(early.filter((p) => seriesOf(p) === 'dwell:wifi').map((p) => [p.windowStart, p.coversFrom])).toEqual([[T0 - EPOCH, 0]]);
    expect(early.find((p) => seriesOf(p) === 'sightings:wifi')).toMatchObject({ cells: [{ deviceId: 'LP-0001', people: 6 }], trips: [] });
    expect(early.find((p) => seriesOf(p) === 'sightings:plate')).toMatchObject({ cells: [], trips: [] });
    const end = stage.closeDue(T0 + EPOCH);
    const dwell = end.filter((p) => seriesOf(p) === 'dwell:wifi');
    expect(dwell).toEqual([
      expect.objectContaining({
        windowStart: T0,
        windowEnd: T0 + EPOCH,
        coversFrom: T0,
        cells: [{ deviceId: 'LP-0001', district: 'north', buckets: [6, 0, 0, 0] }],
      }),
    ]);
    expect(stage.pseudonymsHeld()).toBe(0);
    expect(stage.openWindows()).toBe(0);
  });

  it('takes only the records of its input topic', () => {
    const stage = createPartialStage({ policy, clock: new ManualClock(T0), input: { type: 'readings', topic: 'r', partition: 0 } });
    expect(() => stage.addSighting(phone('x', T0))).toThrow(/takes readings/);
  });
});

describe('records stamped in the future', () => {
  it('are refused, so one forged timestamp cannot hold a window (and the offsets behind it) open', () => {
    const now = Date.UTC(2026, 0, 1, 8, 0, 0);
    const stage = createPartialStage({
      policy: loadPolicy(DEFAULT_POLICY_PATH),
      clock: new ManualClock(now),
      input: { type: 'readings', topic: 'lethe.readings.v1', partition: 0 },
    });
    const reading = (ts: number) => ({ v: 1 as const, kind: 'sewer' as const, deviceId: 'SW-0001', district: 'north', seq: ts, ts, values: { levelCm: 1 } });
    expect(stage.addReading(reading(now + 365 * 86_400_000))).toBe('future');
    expect(stage.addReading(reading(now + 59_000))).toBe('accepted');
  });
});
