// The compact per-person state (person-windows.ts) against the naive form that keeps every
// sighting of the epoch (support/naive-person-windows.ts): the same figures — people per cell,
// speeds, trips, dwell times — for any arrival order, redelivered copies, closes at any time and
// a restart that already emitted some windows.
import type { SightingRecord } from '@lethe/schemas';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPersonWindows, type PersonWindows } from '../src/person-windows.ts';
import { createNaivePersonWindows } from './support/naive-person-windows.ts';
import { carSighting } from './support/records.ts';

const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const WINDOW = 10_000;
const EPOCH = 60_000;
const SPAN = 2 * EPOCH;
const LAMPS = [
  ['LP-0001', 'north'],
  ['LP-0002', 'north'],
  ['LP-0003', 'south'],
] as const;
const LIGHTS = [
  ['TL-0001', 'north'],
  ['TL-0002', 'south'],
  ['TL-0003', 'south'],
] as const;
const PEOPLE = Array.from({ length: 6 }, (_, i) => `person-${i}`.padEnd(22, 'x'));

/** Few people and cells, times on a coarse grid: ties in time, in "seen most" and in dwell are common. */
const sighting = fc
  .record({
    plate: fc.boolean(),
    person: fc.constantFrom(...PEOPLE),
    cell: fc.nat({ max: 2 }),
    ts: fc.integer({ min: 0, max: SPAN / 2_500 - 1 }).map((n) => T0 + n * 2_500),
    speed: fc.integer({ min: 0, max: 120 }),
  })
  .map(({ plate, person, cell, ts, speed }): SightingRecord => {
    const [deviceId, district] = (plate ? LIGHTS : LAMPS)[cell]!;
    return {
      v: 1,
      source: plate ? 'plate' : 'wifi',
      pseudonym: person,
      epoch: 0,
      kind: plate ? 'traffic-light' : 'lamppost',
      deviceId,
      district,
      ts,
      ...(plate ? { speedKmh: speed } : {}),
    };
  });

/** Per-person lists in a fixed order: both forms list people in the order they came, the naive one per epoch, the compact one per window (the lists become histograms). */
function normalized({ windows, epochs }: ReturnType<PersonWindows['closeDue']>) {
  const up = (xs: number[]) => [...xs].sort((a, b) => a - b);
  return {
    windows: windows.map((w) => ({
      ...w,
      cells: w.cells.map((c) => ({ ...c, speeds: up(c.speeds) })),
      trips: w.trips.map((t) => ({ ...t, durations: up(t.durations) })),
    })),
    epochs: epochs.map((e) => ({ ...e, dwell: e.dwell.map((d) => ({ ...d, dwells: up(d.dwells) })) })),
  };
}

type Step = { add: SightingRecord } | { close: number };

const run = fc
  .record({
    sightings: fc.array(sighting, { maxLength: 150 }),
    copies: fc.array(fc.nat(), { maxLength: 40 }),
    closes: fc.array(fc.integer({ min: T0, max: T0 + SPAN + WINDOW }), { maxLength: 8 }),
    order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 200, maxLength: 200 }),
    emittedUpTo: fc.oneof(
      fc.constant(0),
      fc.integer({ min: 0, max: 5 }).map((n) => T0 + n * WINDOW),
    ),
  })
  .map(({ sightings, copies, closes, order, emittedUpTo }) => {
    const records = sightings;
    const steps: Step[] = [...records, ...copies.flatMap((c) => (records.length > 0 ? [records[c % records.length]!] : []))].map((add) => ({ add }));
    for (const at of closes) steps.push({ close: at });
    // A random order: out-of-order arrival, copies before or after their window closed.
    const keyed = steps.map((step, i) => ({ step, key: order[i % order.length]! + i * 1e-9 }));
    return { steps: keyed.sort((a, b) => a.key - b.key).map((k) => k.step), emittedUpTo };
  });

describe('compact per-person state', () => {
  it('gives exactly the figures of the naive form that keeps every sighting (fast-check)', () => {
    fc.assert(
      fc.property(run, ({ steps, emittedUpTo }) => {
        const compact = createPersonWindows();
        const naive = createNaivePersonWindows();
        let closedUpTo = emittedUpTo;
        for (const step of [...steps, { close: T0 + SPAN + EPOCH }]) {
          if ('add' in step) {
            // As the stage does: a sighting whose epoch is closed is late and never reaches them.
            if (Math.floor((step.add.ts - T0) / EPOCH) * EPOCH + T0 + EPOCH <= closedUpTo) continue;
            const n = naive.add(step.add, WINDOW, EPOCH, closedUpTo);
            const c = compact.add(step.add, WINDOW, EPOCH, closedUpTo);
            // The compact form spots a copy while its window is open; after that the copy changes none of its summaries.
            if (n === 'accepted') expect(c).toBe('accepted');
          } else {
            closedUpTo = Math.max(closedUpTo, step.close);
            expect(normalized(compact.closeDue(closedUpTo))).toEqual(normalized(naive.closeDue(closedUpTo)));
            expect(compact.pseudonymsHeld()).toBe(naive.pseudonymsHeld());
            expect(compact.openEpochs()).toBe(naive.openEpochs());
          }
        }
        expect(compact.openEpochs()).toBe(0);
      }),
      { seed: 0x1e7e, numRuns: 1000 },
    );
  });

  it('starts a trip from the latest sighting before the window, by time then cell, even one that came after its window closed', () => {
    const car = (deviceId: string, ts: number) => carSighting(PEOPLE[0]!, deviceId, ts, { speedKmh: 30 });
    for (const form of [createPersonWindows(), createNaivePersonWindows()]) {
      form.add(car('TL-0002', T0 + 1_000), WINDOW, EPOCH, 0);
      form.closeDue(T0 + WINDOW);
      // Late, at the same time as the other, at a cell that sorts after it: the car left from there.
      form.add(car('TL-0003', T0 + 1_000), WINDOW, EPOCH, 0);
      form.add(car('TL-0001', T0 + WINDOW + 4_000), WINDOW, EPOCH, 0);
      expect(form.closeDue(T0 + 2 * WINDOW).windows[0]!.trips.map((t) => [t.from, t.to, t.durations])).toEqual([['TL-0003', 'TL-0001', [13]]]);
    }
  });

  it('holds sightings one by one only in windows not yet summarized', () => {
    const people = createPersonWindows();
    const seen = (i: number): SightingRecord => ({
      v: 1,
      source: 'wifi',
      pseudonym: PEOPLE[i % 6]!,
      epoch: 0,
      kind: 'lamppost',
      deviceId: LAMPS[i % 3]![0],
      district: LAMPS[i % 3]![1],
      ts: T0 + i * 10,
    });
    // 6,000 sightings of six people, 1,000 per window over the epoch's six windows.
    for (let i = 0; i < 6_000; i++) people.add(seen(i), WINDOW, EPOCH, 0);
    expect(people.sightingsHeld()).toBe(6_000);
    expect(people.closeDue(T0 + EPOCH - WINDOW).windows).toHaveLength(5);
    expect(people.sightingsHeld()).toBe(1_000);
    expect(people.pseudonymsHeld()).toBe(6);
    // A copy of a sighting whose window is summarized is folded into the summaries, not held.
    people.add(seen(10), WINDOW, EPOCH, 0);
    expect(people.sightingsHeld()).toBe(1_000);
    people.closeDue(T0 + EPOCH);
    expect([people.sightingsHeld(), people.pseudonymsHeld()]).toEqual([0, 0]);
  });
});
