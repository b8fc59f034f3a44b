import type { SightingSource, WindowPartialRecord } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { SPEED_BINS } from '../src/bins.ts';
import { createBudgetLedger } from '../src/ledger.ts';
import { createNoiseSource } from '../src/noise.ts';
import { createReleaser } from '../src/releaser.ts';
import { shortPolicy } from './support/synthetic-city.ts';

const policy = shortPolicy();
const W = policy.kinds.lamppost.window;
const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);

/** A wifi partial of window `w` (0, 1, …) from a sightings partition, with `people` per cell. */
function wifi(w: number, partition: number, cells: Record<string, number> = {}, coversFrom = T0 + w * W): WindowPartialRecord {
  return {
    v: 1,
    type: 'sightings',
    source: 'wifi' as SightingSource,
    windowStart: T0 + w * W,
    windowEnd: T0 + (w + 1) * W,
    coversFrom,
    topic: 'lethe.sightings.v1',
    partition,
    cells: Object.entries(cells).map(([deviceId, people]) => ({ deviceId, district: 'north', people })),
    trips: [],
  };
}

function setup(sightings = 3) {
  const ledger = createBudgetLedger();
  const releaser = createReleaser({ policy, noise: createNoiseSource(Buffer.alloc(32, 1)), ledger, partitions: { readings: 1, sightings } });
  const released = () =>
    releaser
      .release()
      .windows.filter((w) => w.series === 'sightings:wifi')
      .map((w) => (w.windowStart - T0) / W);
  return { ledger, releaser, released };
}

describe('the releaser', () => {
  it('releases the windows a partial spans as empty too, so a catch-up releases every window, not only those with people (P9)', () => {
    const { releaser, released } = setup(1);
    releaser.add(wifi(0, 0, { 'LP-0001': 6 }));
    expect(released()).toEqual([0]);
    // The partition had nothing in windows 1–3: its next partial says so with coversFrom.
    releaser.add(wifi(4, 0, { 'LP-0001': 1 }, T0 + W));
    expect(released()).toEqual([1, 2, 3, 4]);
  });

  it('releases a window only once every partition has reported it, an empty partial being a report', () => {
    const { releaser, released } = setup();
    expect(releaser.add(wifi(0, 0, { 'LP-0001': 4 }, 0))).toBe('accepted');
    expect(releaser.add(wifi(0, 2, { 'LP-0001': 3 }, 0))).toBe('accepted');
    expect(released()).toEqual([]);
    expect(releaser.pendingWindows()).toBe(1);
    expect(releaser.add(wifi(0, 1, {}, 0))).toBe('accepted');
    const out = releaser.release();
    // 4 + 3 people merged before k: the cell of 7 is released, which neither partition alone could.
    expect(out.records.filter((r) => r.measurement === 'pedestrians').map((r) => r.tags.scope)).toEqual(['cell']);
    expect(out.windows).toEqual([{ series: 'sightings:wifi', windowStart: T0, windowEnd: T0 + W, partials: 3 }]);
  });

  it('takes a later partial whose coversFrom spans a window as the word that the partition had nothing in it', () => {
    const { releaser, released } = setup(2);
    releaser.add(wifi(0, 0, { 'LP-0001': 6 }, 0));
    releaser.add(wifi(1, 0, { 'LP-0001': 6 }));
    expect(released()).toEqual([]);
    // Partition 1 was read from the beginning and had nothing before window 1.
    releaser.add(wifi(1, 1, { 'LP-0002': 5 }, 0));
    expect(released()).toEqual([0, 1]);
  });

  it('keeps the first copy of a partial, ignores replays of released windows, and charges the ledger once per window', () => {
    const { releaser, ledger, released } = setup(2);
    const first = wifi(0, 0, { 'LP-0001': 9 }, 0);
    expect(releaser.add(first)).toBe('accepted');
    expect(releaser.add(wifi(0, 0, { 'LP-0001': 1 }, 0))).toBe('duplicate');
    releaser.add(wifi(0, 1, {}, 0));
    const out = releaser.release();
    expect(out.records.find((r) => r.tags.scope === 'cell')).toBeDefined();
    expect(releaser.add(first)).toBe('replay');
    expect(releaser.add(wifi(0, 1, {}, 0))).toBe('replay');
    expect(released()).toEqual([]);
    expect(ledger.entries().map((e) => [e.stream, e.releases])).toEqual([['pedestrians', 1]]);
  });

  it('releases each series in window order, a later window waiting for an earlier incomplete one', () => {
    const { releaser, ledger, released } = setup(2);
    releaser.add(wifi(0, 0, { 'LP-0001': 5 }, 0));
    releaser.add(wifi(1, 0, { 'LP-0001': 5 }));
    releaser.add(wifi(2, 0, { 'LP-0001': 5 }));
    releaser.add(wifi(0, 1, { 'LP-0001': 5 }, 0));
    expect(released()).toEqual([0]);
    releaser.add(wifi(1, 1, {}));
    releaser.add(wifi(2, 1, {}));
    const out = releaser.release();
    expect(out.windows.map((w) => (w.windowStart - T0) / W)).toEqual([1, 2]);
    expect(out.reports.map((r) => [r.stream, r.outcome, (r.windowStart - T0) / W])).toEqual([
      ['pedestrians', 'granted', 1],
      ['pedestrians', 'granted', 2],
    ]);
    expect(ledger.entries()[0]).toMatchObject({ stream: 'pedestrians', releases: 3, spent: 3 });
  });

  it('discards, never releases, windows a partition can no longer complete (its partials start later)', () => {
    const { releaser, released } = setup(2);
    releaser.add(wifi(0, 0, { 'LP-0001': 8 }, 0));
    releaser.add(wifi(1, 0, { 'LP-0001': 8 }));
    releaser.add(wifi(2, 0, { 'LP-0001': 8 }));
    // Partition 1's earlier partials are gone (say, deleted by retention): it speaks from window 2 on.
    releaser.add(wifi(2, 1, { 'LP-0002': 5 }, T0 + 2 * W));
    const out = releaser.release();
    expect(out.discarded.map((w) => (w.windowStart - T0) / W)).toEqual([0, 1]);
    expect(out.windows.map((w) => (w.windowStart - T0) / W)).toEqual([2]);
    expect(out.records.filter((r) => r.measurement === 'pedestrians' && r.windowStart < T0 + 2 * W)).toEqual([]);
    expect(released()).toEqual([]);
  });

  it('continues on its own grid after a run under another window length (a policy change)', () => {
    const { releaser, released } = setup(1);
    // The previous run released up to a time two thirds into one of this policy's windows.
    releaser.restore({ 'sightings:wifi': T0 + 2 * W + (2 * W) / 3 });
    expect(releaser.add(wifi(2, 0, { 'LP-0001': 6 }))).toBe('replay');
    expect(releaser.add(wifi(3, 0, { 'LP-0001': 6 }))).toBe('accepted');
    expect(released()).toEqual([3]);
    expect(releaser.releasedUpTo()['sightings:wifi']).toBe(T0 + 4 * W);
  });

  it('continues after a restart without re-releasing what the previous run released', () => {
    const { releaser, ledger, released } = setup(1);
    releaser.restore({ 'sightings:wifi': T0 + 2 * W });
    expect(releaser.add(wifi(1, 0, { 'LP-0001': 6 }))).toBe('replay');
    expect(releaser.add(wifi(2, 0, { 'LP-0001': 6 }))).toBe('accepted');
    expect(released()).toEqual([2]);
    expect(ledger.entries()[0]).toMatchObject({ releases: 1 });
    expect(releaser.releasedUpTo()['sightings:wifi']).toBe(T0 + 3 * W);
  });

  it('replays identical records, privacy record included, under a ledger restored from further ahead (a restart after claim and send)', () => {
    const partials = [0, 1, 2, 3].map((w) => wifi(w, 0, { 'LP-0001': 6 + w }));
    const first = setup(1);
    const original = partials.flatMap((p) => (first.releaser.add(p), first.releaser.release().records));
    expect(original.filter((r) => r.measurement === 'privacy').map((r) => r.fields.epsilon_spent_today)).toEqual(
      [1, 2, 3, 4].map((n) => n * policy.kinds.lamppost.epsilonPerRelease),
    );
    const second = setup(1);
    second.ledger.restore(JSON.parse(JSON.stringify(first.ledger.entries())));
    const replayed = partials.flatMap((p) => (second.releaser.add(p), second.releaser.release().records));
    expect(replayed).toEqual(original);
  });

  it('refuses partials it cannot merge: another window size, other histogram bins', () => {
    const { releaser } = setup(1);
    expect(releaser.add({ ...wifi(0, 0, {}, 0), windowEnd: T0 + 2 * W })).toBe('invalid');
    const vehicles: WindowPartialRecord = {
      ...wifi(0, 0, {}, 0),
      source: 'plate',
      cells: [{ deviceId: 'TL-0001', district: 'east', people: 6, speedBins: Array.from({ length: SPEED_BINS.count + 1 }, () => 0) }],
    } as WindowPartialRecord;
    expect(releaser.add(vehicles)).toBe('invalid');
  });

  it('learns of a partition added to the input topic from its first partial', () => {
    const { releaser, released } = setup(1);
    releaser.add(wifi(0, 0, { 'LP-0001': 5 }, 0));
    releaser.add(wifi(0, 1, { 'LP-0001': 5 }, 0));
    expect(releaser.partitions().sightings).toBe(2);
    expect(released()).toEqual([0]);
    releaser.add(wifi(1, 0, {}));
    expect(released()).toEqual([]);
  });
});
