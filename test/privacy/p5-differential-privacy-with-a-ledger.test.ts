// P5 — Differential privacy with a ledger. Person-derived figures get calibrated noise with
// an explicit ε per release; spending is accounted per stream and UTC day, survives a
// restart, and release stops when the day's budget is spent.
// Statistical checks use fixed keys, so they are repeatable.
import {
  createAggregator,
  createBudgetLedger,
  createNoiseSource,
  DEFAULT_POLICY_PATH,
  discreteLaplaceStdDev,
  loadPolicy,
  ManualClock,
  parsePolicy,
  type Policy,
} from '@lethe/privacy';
import type { AggregateRecord, SightingRecord } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { decodeReleaserMetadata, encodeReleaserMetadata } from '../../services/processor/src/commit-metadata.ts';

const shipped = loadPolicy(DEFAULT_POLICY_PATH);
const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const WINDOW = shipped.kinds.lamppost.window;
/** Pedestrian releases split ε between cells and district totals. */
const CELL_EPSILON = shipped.kinds.lamppost.epsilonPerRelease / 2;

function withLamppost(changes: { epsilonPerRelease?: number; epsilonPerDay?: number }): Policy {
  return parsePolicy({
    ...shipped,
    aggregates: { retention: '30d' },
    rawData: { ttl: '15m', segment: '1m', maxLateness: '60s' },
    kinds: Object.fromEntries(
      Object.entries(shipped.kinds).map(([kind, p]) => [
        kind,
        { ...p, window: `${p.window / 1000}s`, epoch: `${p.epoch / 1000}s`, ...(kind === 'lamppost' ? changes : {}) },
      ]),
    ),
  });
}

/** One window with `people` phones at LP-0001 (and 30 at LP-0002, so the district is released). */
function releaseWindow(policy: Policy, key: Buffer, people: number, start = T0, ledger = createBudgetLedger()): AggregateRecord[] {
  const clock = new ManualClock(start);
  const aggregator = createAggregator({ policy, clock, graceMs: 0, noise: createNoiseSource(key), ledger });
  for (const [device, n] of [
    ['LP-0001', people],
    ['LP-0002', 30],
  ] as const) {
    for (let p = 0; p < n; p++) {
      const sighting: SightingRecord = {
        v: 1,
        source: 'wifi',
        pseudonym: `${device}-${p}`.padEnd(22, 'x'),
        epoch: 0,
        kind: 'lamppost',
        deviceId: device,
        district: 'north',
        ts: start + 1_000,
      };
      aggregator.addSighting(sighting);
    }
  }
  return aggregator.closeDue(start + WINDOW).records;
}

const cellValue = (records: AggregateRecord[]) => records.find((r) => r.measurement === 'pedestrians' && r.tags.device === 'LP-0001')?.fields.people;
const keyOf = (i: number) => {
  const key = Buffer.alloc(32);
  key.writeUInt32BE(i);
  return key;
};

describe('P5: differential privacy with a ledger', () => {
  it(`adds discrete Laplace noise calibrated to ε = ${CELL_EPSILON} per cell figure (20,000 releases of the same window under different keys)`, () => {
    const truth = 40;
    const errors = Array.from({ length: 20_000 }, (_, i) => cellValue(releaseWindow(shipped, keyOf(i), truth))! - truth);
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    const sd = Math.sqrt(errors.reduce((a, b) => a + (b - mean) ** 2, 0) / errors.length);
    const expectedSd = discreteLaplaceStdDev(CELL_EPSILON, 1);
    console.log(`P5: ε per cell ${CELL_EPSILON}, noise sd measured ${sd.toFixed(3)} vs ${expectedSd.toFixed(3)} expected, mean ${mean.toFixed(3)}`);
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(sd / expectedSd).toBeGreaterThan(0.96);
    expect(sd / expectedSd).toBeLessThan(1.04);
    expect(new Set(errors).size, 'noise takes many values, not a constant').toBeGreaterThan(15);
  });

  it('makes neighbouring datasets (one person more) nearly indistinguishable: P[x | n] / P[x | n+1] ≤ e^ε', () => {
    const runs = 40_000;
    const histogram = (people: number) => {
      const h = new Map<number, number>();
      for (let i = 0; i < runs; i++) {
        const x = cellValue(releaseWindow(shipped, keyOf(1_000_000 + i), people))!;
        h.set(x, (h.get(x) ?? 0) + 1);
      }
      return h;
    };
    const with30 = histogram(30);
    const with31 = histogram(31);
    let checked = 0;
    for (const [x, a] of with30) {
      const b = with31.get(x) ?? 0;
      // Only outputs seen often enough for the ratio to be measured (±~10 %).
      if (a < 400 || b < 400) continue;
      checked++;
      const ratio = Math.max(a / b, b / a);
      expect(ratio, `output ${x}: ${a} vs ${b}`).toBeLessThan(Math.exp(CELL_EPSILON) * 1.15);
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('releases the same value for a replayed window, so repeats cannot be averaged away', () => {
    const a = releaseWindow(shipped, keyOf(7), 25);
    const b = releaseWindow(shipped, keyOf(7), 25);
    expect(a).toEqual(b);
  });

  it('stops releasing a stream when the day budget is spent, shows ε spent, and resumes the next UTC day', () => {
    const policy = withLamppost({ epsilonPerRelease: 1, epsilonPerDay: 3 });
    const ledger = createBudgetLedger();
    const day = Array.from({ length: 5 }, (_, w) => releaseWindow(policy, keyOf(1), 20, T0 + w * WINDOW, ledger));
    const released = day.map((records) => records.filter((r) => r.measurement === 'pedestrians').length);
    // Two cells per window (their district total adds nobody beyond them, so it is not released).
    expect(released).toEqual([2, 2, 2, 0, 0]);
    const privacy = day.map((records) => records.find((r) => r.measurement === 'privacy' && r.tags.stream === 'pedestrians')!.fields);
    expect(privacy.map((p) => p.epsilon_spent_today)).toEqual([1, 2, 3, 3, 3]);
    expect(privacy.map((p) => p.epsilon_this_release)).toEqual([1, 1, 1, 0, 0]);
    expect(privacy.every((p) => p.epsilon_budget_today === 3)).toBe(true);
    const tomorrow = releaseWindow(policy, keyOf(1), 20, T0 + 86_400_000, ledger);
    expect(tomorrow.filter((r) => r.measurement === 'pedestrians')).toHaveLength(2);
  });

  it('keeps ε spent across a processor restart (the ledger travels in the releaser’s committed offset metadata)', () => {
    const policy = withLamppost({ epsilonPerRelease: 1, epsilonPerDay: 2 });
    const before = createBudgetLedger();
    releaseWindow(policy, keyOf(1), 20, T0, before);
    releaseWindow(policy, keyOf(1), 20, T0 + WINDOW, before);
    const metadata = encodeReleaserMetadata({ releasedUpTo: { 'sightings:wifi': T0 + 2 * WINDOW }, ledger: before.entries() });
    expect(Buffer.byteLength(metadata)).toBeLessThan(4096);

    const after = createBudgetLedger();
    after.restore(decodeReleaserMetadata(metadata).ledger);
    expect(releaseWindow(policy, keyOf(1), 20, T0 + 2 * WINDOW, after).filter((r) => r.measurement === 'pedestrians')).toEqual([]);
    const fresh = createBudgetLedger();
    expect(releaseWindow(policy, keyOf(1), 20, T0 + 2 * WINDOW, fresh).filter((r) => r.measurement === 'pedestrians')).toHaveLength(2);
  });
});
