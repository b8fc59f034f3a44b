// Scale-out: the same records through one processor or split over N input partitions (readings
// by device, sightings by pseudonym, as Kafka's key hash splits them) — one stage 1 per
// partition, partials through their JSON wire format in any interleaving, replayed copies
// included, one releaser merging them — give IDENTICAL aggregates: the same records, fields,
// noise, suppressions and ε, in the same order.
import { WindowPartialRecordSchema, type AggregateRecord, type WindowPartialRecord } from '@lethe/schemas';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAggregator } from '../src/aggregator.ts';
import type { ReleaseReport } from '../src/anonymizer.ts';
import { ManualClock } from '../src/clock.ts';
import { createBudgetLedger } from '../src/ledger.ts';
import { createNoiseSource } from '../src/noise.ts';
import { createPartialStage } from '../src/partials.ts';
import { createReleaser } from '../src/releaser.ts';
import { keyHash, seeded, shortPolicy, syntheticCity, type CityRecord } from './support/synthetic-city.ts';

const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const policy = shortPolicy();
const NOISE_KEY = Buffer.alloc(32, 11);
const GRACE = 2_000;
/** How often the processor's timer closes windows, in simulated time. */
const TICK = 3_000;

interface Output {
  records: AggregateRecord[];
  reports: ReleaseReport[];
}

/** Runs the records in arrival order, closing windows every TICK, and once more at the end. */
function drive(records: readonly CityRecord[], clock: ManualClock, add: (r: CityRecord) => void, close: (now: number) => Output): Output {
  const out: Output = { records: [], reports: [] };
  const collect = (o: Output) => {
    out.records.push(...o.records);
    out.reports.push(...o.reports);
  };
  let last = records[0]!.record.ts;
  for (const r of records) {
    if (r.record.ts - last >= TICK) {
      collect(close(r.record.ts));
      last = r.record.ts;
    }
    clock.set(r.record.ts);
    add(r);
  }
  collect(close(last + 10 * 60_000));
  return out;
}

function unsplit(records: readonly CityRecord[]): Output {
  const clock = new ManualClock(T0);
  const aggregator = createAggregator({ policy, clock, graceMs: GRACE, noise: createNoiseSource(NOISE_KEY), ledger: createBudgetLedger() });
  return drive(
    records,
    clock,
    (r) => (r.type === 'reading' ? aggregator.addReading(r.record) : aggregator.addSighting(r.record)),
    (now) => aggregator.closeDue(now),
  );
}

/** N stage-1 instances per input topic and one releaser; partials cross as JSON, interleaved at random, some twice. */
function split(records: readonly CityRecord[], partitions: number, salt: number): Output & { partials: WindowPartialRecord[] } {
  const clock = new ManualClock(T0);
  const random = seeded(salt);
  const stages = (type: 'readings' | 'sightings') =>
    Array.from({ length: partitions }, (_, partition) => createPartialStage({ policy, clock, input: { type, topic: `lethe.${type}.v1`, partition } }));
  const readings = stages('readings');
  const sightings = stages('sightings');
  const releaser = createReleaser({
    policy,
    noise: createNoiseSource(NOISE_KEY),
    ledger: createBudgetLedger(),
    partitions: { readings: partitions, sightings: partitions },
  });
  const wire: WindowPartialRecord[] = [];
  const out = drive(
    records,
    clock,
    (r) => {
      if (r.type === 'reading') readings[keyHash(r.record.deviceId, salt) % partitions]!.addReading(r.record);
      else sightings[keyHash(r.record.pseudonym, salt) % partitions]!.addSighting(r.record);
    },
    (now) => {
      // Each partition's partials in order, the partitions interleaved at random (as different instances' producers are).
      const queues = [...readings, ...sightings].map((s) => s.closeDue(now - GRACE).map((p) => WindowPartialRecordSchema.parse(JSON.parse(JSON.stringify(p)))));
      while (queues.some((q) => q.length > 0)) {
        const q = queues.filter((x) => x.length > 0);
        const partial = q[Math.floor(random() * q.length)]!.shift()!;
        wire.push(partial);
        expect(releaser.add(partial)).toBe('accepted');
        // A replayed copy (a producer retry, a rebalance) changes nothing.
        if (random() < 0.1) expect(releaser.add(structuredClone(partial))).toMatch(/^(duplicate|replay)$/);
      }
      return releaser.release();
    },
  );
  return { ...out, partials: wire };
}

describe('scale-out: the processor split over input partitions', () => {
  it('gives records identical to one processor, for 1, 2, 3 and 5 partitions and any split (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.constantFrom(1, 2, 3, 5), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed, partitions, salt) => {
        const records = syntheticCity({ seed, start: T0 + (seed % 7) * 1_000, seconds: 200 });
        const one = unsplit(records);
        const many = split(records, partitions, salt);
        expect(many.records).toEqual(one.records);
        expect(many.reports).toEqual(one.reports);
      }),
      // Each run simulates 200 s of a city and processes it once whole and once split (4.9 s for 24 runs here).
      { numRuns: 10 },
    );
  }, 60_000);

  it('releases every person-derived stream in the synthetic city, so the comparison covers them all', () => {
    const { records, reports } = unsplit(syntheticCity({ seed: 7, start: T0, seconds: 400 }));
    const released = new Set(records.filter((r) => r.measurement !== 'privacy').map((r) => r.measurement));
    expect([...released].sort()).toEqual(['dwell', 'lamppost', 'pedestrians', 'sewer', 'traffic_light', 'travel_times', 'vehicles']);
    expect(records.some((r) => r.measurement === 'traffic_light' && 'vehicle_count_sum' in r.fields)).toBe(true);
    expect(new Set(reports.map((r) => r.stream))).toEqual(new Set(['pedestrians', 'vehicles', 'travel_times', 'dwell', 'traffic_light.vehicle_count_sum']));
    expect(
      reports.some((r) => r.suppressed.below_k > 0),
      'some figures are suppressed, so k is exercised',
    ).toBe(true);
  });

  it('puts no pseudonym and no per-person value in a partial', () => {
    const city = syntheticCity({ seed: 3, start: T0, seconds: 200 });
    const { partials } = split(city, 3, 1);
    const text = JSON.stringify(partials);
    const pseudonyms = new Set(city.flatMap((r) => (r.type === 'sighting' ? [r.record.pseudonym] : [])));
    expect(pseudonyms.size).toBeGreaterThan(50);
    for (const p of pseudonyms) expect(text).not.toContain(p);
    const speeds = new Set(
      city.flatMap((r) => (r.type === 'sighting' && r.record.speedKmh !== undefined && !Number.isInteger(r.record.speedKmh) ? [r.record.speedKmh] : [])),
    );
    for (const partial of partials) {
      if (partial.type !== 'sightings') continue;
      for (const c of partial.cells) for (const n of c.speedBins ?? []) expect(Number.isInteger(n) && !speeds.has(n)).toBe(true);
    }
  });
});
