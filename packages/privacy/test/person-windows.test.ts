import type { SightingRecord } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { createPersonWindows } from '../src/person-windows.ts';
import { carSighting } from './support/records.ts';

const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const WINDOW = 60_000;
const EPOCH = 15 * 60_000;
const plate = (pseudonym: string, deviceId: string, ts: number, speedKmh?: number): SightingRecord =>
  carSighting(pseudonym, deviceId, ts, { speedKmh, district: deviceId === 'TL-0009' ? 'east' : 'north' });
const wifi = (pseudonym: string, deviceId: string, ts: number): SightingRecord => ({ ...plate(pseudonym, deviceId, ts), source: 'wifi', kind: 'lamppost' });

describe('per-person windows', () => {
  it('counts each person once per window, in the cell where they were seen most', () => {
    const people = createPersonWindows();
    people.add(wifi('a', 'LP-0001', T0 + 1_000), WINDOW, EPOCH, 0);
    people.add(wifi('a', 'LP-0002', T0 + 2_000), WINDOW, EPOCH, 0);
    people.add(wifi('a', 'LP-0002', T0 + 3_000), WINDOW, EPOCH, 0);
    people.add(wifi('b', 'LP-0001', T0 + 4_000), WINDOW, EPOCH, 0);
    const { windows } = people.closeDue(T0 + WINDOW);
    expect(windows).toHaveLength(1);
    expect(windows[0]!.cells.map((c) => [c.deviceId, c.people])).toEqual([
      ['LP-0001', 1],
      ['LP-0002', 1],
    ]);
  });

  it('times trips between junctions within an epoch, at most one per vehicle and window, attributed to the arrival window', () => {
    const people = createPersonWindows();
    people.add(plate('car', 'TL-0001', T0 + 10_000, 40), WINDOW, EPOCH, 0);
    people.add(plate('car', 'TL-0002', T0 + 70_000, 30), WINDOW, EPOCH, 0);
    people.add(plate('car', 'TL-0009', T0 + 100_000, 50), WINDOW, EPOCH, 0);
    people.add(plate('other', 'TL-0002', T0 + 80_000, 20), WINDOW, EPOCH, 0);
    const first = people.closeDue(T0 + WINDOW).windows;
    expect(first[0]!.trips).toEqual([]);
    const second = people.closeDue(T0 + 2 * WINDOW).windows;
    // TL-0001 → TL-0002 arrives in the second window; TL-0002 → TL-0009 also does, but one trip per vehicle per window.
    expect(second[0]!.trips).toEqual([{ from: 'TL-0001', fromDistrict: 'north', to: 'TL-0002', toDistrict: 'north', durations: [60] }]);
    expect(second[0]!.cells.find((c) => c.deviceId === 'TL-0002')).toMatchObject({ people: 2, speeds: [30, 20] });
  });

  it('yields dwell times when the epoch ends and then holds no pseudonym of it', () => {
    const people = createPersonWindows();
    for (let t = 0; t <= 6; t++) people.add(wifi('stayer', 'LP-0001', T0 + t * 60_000), WINDOW, EPOCH, 0);
    people.add(wifi('passer', 'LP-0001', T0 + 5_000), WINDOW, EPOCH, 0);
    people.add(wifi('next-epoch', 'LP-0001', T0 + EPOCH + 5_000), WINDOW, EPOCH, 0);
    expect(people.pseudonymsHeld()).toBe(3);
    const { epochs } = people.closeDue(T0 + EPOCH);
    expect(epochs).toEqual([{ source: 'wifi', epochStart: T0, epochEnd: T0 + EPOCH, dwell: [{ deviceId: 'LP-0001', district: 'north', dwells: [360, 0] }] }]);
    expect(people.pseudonymsHeld()).toBe(1);
    expect(people.openEpochs()).toBe(1);
  });

  it('does not summarize again the windows an earlier run emitted', () => {
    const people = createPersonWindows();
    people.add(wifi('a', 'LP-0001', T0 + 1_000), WINDOW, EPOCH, T0 + WINDOW);
    people.add(wifi('a', 'LP-0001', T0 + 61_000), WINDOW, EPOCH, T0 + WINDOW);
    const { windows } = people.closeDue(T0 + 2 * WINDOW);
    expect(windows.map((w) => w.windowStart)).toEqual([T0 + WINDOW]);
  });
});
