// The processor's window and aggregation logic against a naive reference model (fast-check,
// fixed seed, bounded runs). Random streams of readings and sightings arrive in random order,
// with redelivered copies and windows closing in between; the aggregator's output must equal
// what the reference computes by grouping the records itself:
//   - environmental figures per device and per district and window (count, mean, max, sum,
//     count of true), over the readings that arrived before their window closed, each once;
//     presence-dependent ones per district only, as the mean of the clamped readings;
//   - person-derived figures before noise (the policy's ε is made so large that the noise is
//     exactly 0): distinct people per cell with "one cell per person per window" (where seen
//     most; ties to the earliest sighting, then the smaller device id), k-suppression, the
//     differencing rule for district totals, speed histograms, dwell-time buckets per epoch,
//     and loop counts per device with k.
import {
  createAggregator,
  createBudgetLedger,
  createNoiseSource,
  createPersonWindows,
  DEFAULT_POLICY_PATH,
  loadPolicy,
  ManualClock,
  parsePolicy,
  snakeCase,
  DWELL_BUCKETS,
  type Policy,
} from '../../src/index.ts';
import { histogramStats, SPEED_BINS } from '../../src/bins.ts';
import type { AggregateRecord, DeviceKind, ReadingRecord, SightingRecord } from '@lethe/schemas';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exactInRange } from '@lethe/schemas/arbitraries';
import { carSighting } from '../support/records.ts';

const WINDOW = 10_000;
const EPOCH = 40_000;
const K = 2;
const T0 = Date.UTC(2026, 0, 1, 8, 0, 0);
const SPAN = 2 * EPOCH;

const shipped = loadPolicy(DEFAULT_POLICY_PATH);
/** The shipped policy with short windows, a small k and an ε so large that the noise is exactly 0. */
const policy: Policy = parsePolicy({
  ...JSON.parse(JSON.stringify({ ...shipped, aggregates: { retention: '30d' }, rawData: { ttl: '15m', segment: '1m', maxLateness: '60s' } })),
  kinds: Object.fromEntries(
    Object.entries(shipped.kinds).map(([kind, p]) => [
      kind,
      { ...p, window: `${WINDOW / 1000}s`, epoch: `${EPOCH / 1000}s`, k: K, epsilonPerRelease: 1e9, epsilonPerDay: 1e15 },
    ]),
  ),
});

const LAMPS = [
  ['LP-0001', 'north'],
  ['LP-0002', 'north'],
  ['LP-0003', 'south'],
  ['LP-0004', 'south'],
] as const;
const LIGHTS = [
  ['TL-0001', 'north'],
  ['TL-0002', 'south'],
  ['TL-0003', 'south'],
] as const;
const SEWERS = [
  ['SW-0001', 'north'],
  ['SW-0002', 'south'],
] as const;
const PEOPLE = Array.from({ length: 12 }, (_, i) => `person-${String(i).padStart(2, '0')}`.padEnd(22, 'x'));

const windowOf = (ts: number, size: number) => ts - (((ts % size) + size) % size);
const ts = fc.integer({ min: T0, max: T0 + SPAN - 1 });

// --- The stream -------------------------------------------------------------------------------

type Event = { type: 'reading'; record: ReadingRecord } | { type: 'sighting'; record: SightingRecord } | { type: 'close'; at: number };

const reading = fc.oneof(
  fc.record({ device: fc.constantFrom(...LAMPS), ts, pm25: exactInRange(0, 500), energyWh: exactInRange(0, 100) }).map(({ device, ts: t, pm25, energyWh }) => ({
    kind: 'lamppost' as DeviceKind,
    deviceId: device[0],
    district: device[1],
    ts: t,
    values: { pm25, energyWh },
  })),
  fc
    .record({
      device: fc.constantFrom(...LIGHTS),
      ts,
      occupancyPct: exactInRange(0, 100),
      vehicleCount: fc.integer({ min: 0, max: 6 }),
      phase: fc.constantFrom('red', 'green'),
    })
    .map(({ device, ts: t, ...values }) => ({ kind: 'traffic-light' as DeviceKind, deviceId: device[0], district: device[1], ts: t, values })),
  fc
    .record({ device: fc.constantFrom(...SEWERS), ts, levelCm: exactInRange(0, 1000), overflow: fc.boolean() })
    .map(({ device, ts: t, ...values }) => ({ kind: 'sewer' as DeviceKind, deviceId: device[0], district: device[1], ts: t, values })),
);

/** Sightings crowd into a few windows, so people are seen several times at several cells (ties in "where seen most"). */
const crowdedTs = fc.oneof(ts, fc.integer({ min: T0 + WINDOW, max: T0 + 2 * WINDOW - 1 }));
/** Few people in the crowded window: each is seen several times, at two or three cells. */
const crowd = fc.constantFrom(...PEOPLE.slice(0, 4));
const sighting = fc.oneof(
  fc.record({ person: fc.oneof(fc.constantFrom(...PEOPLE), crowd), device: fc.constantFrom(...LAMPS), ts: crowdedTs }).map(({ person, device, ts: t }) => ({
    source: 'wifi' as const,
    kind: 'lamppost' as DeviceKind,
    pseudonym: person,
    deviceId: device[0],
    district: device[1],
    ts: t,
  })),
  fc
    .record({ person: fc.oneof(fc.constantFrom(...PEOPLE), crowd), device: fc.constantFrom(...LIGHTS), ts: crowdedTs, speed: fc.integer({ min: 0, max: 160 }) })
    .map(({ person, device, ts: t, speed }) => ({
      source: 'plate' as const,
      kind: 'traffic-light' as DeviceKind,
      pseudonym: person,
      deviceId: device[0],
      district: device[1],
      ts: t,
      speedKmh: speed,
    })),
);

/** Readings (each with a unique device sequence number), sightings, redelivered copies and closes, in a random order. */
const stream: fc.Arbitrary<Event[]> = fc
  .record({
    readings: fc.array(reading, { maxLength: 60, size: 'max' }),
    sightings: fc.array(sighting, { maxLength: 200, size: 'max' }),
    copies: fc.array(fc.nat(), { maxLength: 30, size: 'max' }),
    closes: fc.array(fc.integer({ min: T0, max: T0 + SPAN + WINDOW }), { maxLength: 6 }),
    order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 300, maxLength: 300 }),
  })
  .map(({ readings, sightings, copies, closes, order }) => {
    const events: Event[] = [
      ...readings.map((r, seq): Event => ({ type: 'reading', record: { v: 1, seq, ...r, values: r.values as ReadingRecord['values'] } })),
      ...sightings.map((s): Event => ({ type: 'sighting', record: { v: 1, epoch: 0, ...s } })),
    ];
    const records = events.length;
    for (const c of copies) if (records > 0) events.push(structuredClone(events[c % records]!));
    events.push(...closes.map((at): Event => ({ type: 'close', at })));
    const key = (i: number) => order[i % order.length]! + i * 1e-9;
    return events
      .map((e, i) => ({ e, k: key(i) }))
      .sort((a, b) => a.k - b.k)
      .map(({ e }) => e);
  });

// --- The aggregator ---------------------------------------------------------------------------

function runAggregator(events: readonly Event[]): AggregateRecord[] {
  const clock = new ManualClock(T0 + SPAN);
  const aggregator = createAggregator({ policy, clock, graceMs: 0, noise: createNoiseSource(Buffer.alloc(32, 9)), ledger: createBudgetLedger() });
  const out: AggregateRecord[] = [];
  for (const e of events) {
    if (e.type === 'reading') aggregator.addReading(e.record);
    else if (e.type === 'sighting') aggregator.addSighting(e.record);
    else out.push(...aggregator.closeDue(e.at).records);
  }
  out.push(...aggregator.closeDue(T0 + 100 * EPOCH).records);
  return out;
}

// --- The reference ----------------------------------------------------------------------------

interface Expected {
  /** measurement|tags|windowStart → fields */
  points: Map<string, Record<string, number>>;
}

const pointKey = (measurement: string, tags: Record<string, string>, start: number) =>
  `${measurement}|${Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}|${start}`;

const group = <T>(items: readonly T[], key: (t: T) => string) => {
  const m = new Map<string, T[]>();
  for (const t of items) m.set(key(t), [...(m.get(key(t)) ?? []), t]);
  return m;
};

/** One window's sightings → people per cell: each person in the cell where seen most, ties to the earliest sighting, then the smaller device id. */
function trueCells(sightings: readonly SightingRecord[]): Map<string, { district: string; speeds: number[] }> {
  const cells = new Map<string, { district: string; speeds: number[] }>();
  for (const [, visits] of group(sightings, (s) => s.pseudonym)) {
    const at = (device: string) => visits.filter((v) => v.deviceId === device);
    const devices = [...new Set(visits.map((v) => v.deviceId))];
    const main = devices.sort(
      (a, b) => at(b).length - at(a).length || Math.min(...at(a).map((v) => v.ts)) - Math.min(...at(b).map((v) => v.ts)) || (a < b ? -1 : 1),
    )[0]!;
    const cell = cells.get(main) ?? { district: at(main)[0]!.district, speeds: [] };
    const speeds = at(main).flatMap((v) => (v.speedKmh === undefined ? [] : [v.speedKmh]));
    cell.speeds.push(speeds.length > 0 ? speeds.reduce((a, b) => a + b, 0) / speeds.length : NaN);
    cells.set(main, cell);
  }
  return cells;
}

function reference(events: readonly Event[]): Expected {
  let closedUpTo = 0;
  const seen = new Set<string>();
  const readings: ReadingRecord[] = [];
  /** Sightings that arrived before their window closed (they count in it), and all that arrived before their epoch closed (dwell). */
  const inWindow: SightingRecord[] = [];
  const inEpoch: SightingRecord[] = [];
  for (const e of events) {
    if (e.type === 'close') {
      closedUpTo = Math.max(closedUpTo, e.at);
      continue;
    }
    const r = e.record;
    if (e.type === 'reading') {
      const start = windowOf(r.ts, WINDOW);
      if (start + WINDOW <= closedUpTo) continue; // late: its window was emitted
      const id = `r|${r.kind}|${start}|${r.deviceId}|${e.record.seq}`;
      if (seen.has(id)) continue;
      seen.add(id);
      readings.push(e.record);
    } else {
      const s = e.record;
      const epoch = windowOf(s.ts, EPOCH);
      if (epoch + EPOCH <= closedUpTo) continue; // late: its epoch was closed
      // A sighting is one pseudonym at one device in one slot (ingest.ts): more records of it are copies.
      const id = `s|${s.source}|${epoch}|${s.deviceId}|${s.pseudonym}|${s.ts}`;
      if (seen.has(id)) continue;
      seen.add(id);
      inEpoch.push(s);
      if (windowOf(s.ts, WINDOW) + WINDOW > closedUpTo) inWindow.push(s);
    }
  }

  const points = new Map<string, Record<string, number>>();
  const set = (measurement: string, tags: Record<string, string>, start: number, fields: Record<string, number>) => {
    const key = pointKey(measurement, tags, start);
    points.set(key, { ...points.get(key), ...fields });
  };
  // Environmental: per device and per district, over the readings themselves.
  for (const [, list] of group(readings, (r) => `${r.kind}|${windowOf(r.ts, WINDOW)}`)) {
    const { kind, ts: t } = list[0]!;
    const kindPolicy = policy.kinds[kind];
    const measurement = snakeCase(kind.replace('-', '_'));
    const start = windowOf(t, WINDOW);
    const summary = (rs: readonly ReadingRecord[]) => {
      const fields: Record<string, number> = { readings: rs.length };
      for (const name of new Set(rs.flatMap((r) => Object.keys(r.values)))) {
        const rule = kindPolicy.fields[name];
        const values = rs.map((r) => r.values[name]);
        if (typeof values[0] === 'boolean') fields[`${snakeCase(name)}_count_true`] = values.filter((v) => v === true).length;
        if (typeof values[0] !== 'number' || rule?.class === 'person-derived' || rule?.class === 'presence-dependent') continue;
        const nums = values as number[];
        const sum = nums.reduce((a, b) => a + b, 0);
        for (const how of rule?.aggregate ?? ['mean', 'max']) {
          fields[`${snakeCase(name)}_${how}`] =
            how === 'mean' ? sum / nums.length : how === 'max' ? Math.max(...nums) : how === 'min' ? Math.min(...nums) : sum;
        }
      }
      return fields;
    };
    for (const [device, rs] of group(list, (r) => r.deviceId)) set(measurement, { scope: 'device', district: rs[0]!.district, device }, start, summary(rs));
    for (const [district, rs] of group(list, (r) => r.district)) set(measurement, { scope: 'district', district }, start, summary(rs));
    // Presence-dependent: per district only, the mean of the readings clamped to the field's range, on the
    // noise grid of perPerson/10 (the noise itself is 0 at this ε).
    for (const [name, rule] of Object.entries(kindPolicy.fields)) {
      if (rule.class !== 'presence-dependent' || rule.treatment !== 'keep') continue;
      const [lo, hi] = rule.range!;
      const step = rule.perPerson! / 10;
      for (const [district, rs] of group(
        list.filter((r) => typeof r.values[name] === 'number'),
        (r) => r.district,
      )) {
        const mean = rs.reduce((a, r) => a + Math.min(hi, Math.max(lo, r.values[name] as number)), 0) / rs.length;
        set(measurement, { scope: 'district', district }, start, {
          [`${snakeCase(name)}_mean`]: Math.min(hi, Math.max(lo, Number((Math.round(mean / step) * step).toPrecision(12)))),
        });
      }
    }
    // Loop counts (person-derived, a count per device): released only from k vehicles.
    for (const [device, rs] of group(list, (r) => r.deviceId)) {
      const count = rs.reduce((n, r) => n + (typeof r.values.vehicleCount === 'number' ? r.values.vehicleCount : 0), 0);
      if (kind === 'traffic-light' && count >= K) set(measurement, { scope: 'device', district: rs[0]!.district, device }, start, { vehicle_count_sum: count });
    }
  }

  // Person-derived: one cell per person and window, then k and differencing.
  for (const [, list] of group(inWindow, (s) => `${s.source}|${windowOf(s.ts, WINDOW)}`)) {
    const start = windowOf(list[0]!.ts, WINDOW);
    const measurement = list[0]!.source === 'wifi' ? 'pedestrians' : 'vehicles';
    const cells = trueCells(list);
    const districts = new Map<string, { total: number; hidden: number }>();
    for (const [device, cell] of cells) {
      const d = districts.get(cell.district) ?? { total: 0, hidden: 0 };
      d.total += cell.speeds.length;
      districts.set(cell.district, d);
      if (cell.speeds.length < K) {
        d.hidden += cell.speeds.length;
        continue;
      }
      const tags = { scope: 'cell', district: cell.district, device };
      const fields: Record<string, number> = { people: cell.speeds.length };
      if (measurement === 'vehicles') {
        const bins = Array.from({ length: SPEED_BINS.count }, () => 0);
        for (const v of cell.speeds) bins[Math.min(SPEED_BINS.count - 1, Math.max(0, Math.floor(v / SPEED_BINS.width)))]!++;
        const stats = histogramStats(bins, SPEED_BINS.width, 0.85)!;
        fields.speed_mean_kmh = stats.mean;
        fields.speed_p85_kmh = stats.percentile;
      }
      set(measurement, tags, start, fields);
    }
    for (const [district, d] of districts) {
      if (d.hidden >= K) set(measurement, { scope: 'district', district }, start, { people: d.total });
    }
  }

  // Dwell times: per person and epoch, the longest stay at one cell (ties to the smaller id), in buckets released from k.
  for (const [, list] of group(
    inEpoch.filter((s) => s.source === 'wifi'),
    (s) => `${windowOf(s.ts, EPOCH)}`,
  )) {
    const start = windowOf(list[0]!.ts, EPOCH);
    const perCell = new Map<string, { district: string; dwells: number[] }>();
    for (const [, visits] of group(list, (s) => s.pseudonym)) {
      const stays = [...group(visits, (v) => v.deviceId)].map(([device, vs]) => ({
        device,
        district: vs[0]!.district,
        dwell: (Math.max(...vs.map((v) => v.ts)) - Math.min(...vs.map((v) => v.ts))) / 1000,
      }));
      const best = stays.sort((a, b) => b.dwell - a.dwell || (a.device < b.device ? -1 : 1))[0]!;
      const cell = perCell.get(best.device) ?? { district: best.district, dwells: [] };
      cell.dwells.push(best.dwell);
      perCell.set(best.device, cell);
    }
    for (const [device, cell] of perCell) {
      DWELL_BUCKETS.forEach((bucket, b) => {
        const n = cell.dwells.filter((d) => d >= bucket.from && d < (DWELL_BUCKETS[b + 1]?.from ?? Infinity)).length;
        if (n >= K) set('dwell', { scope: 'cell', district: cell.district, device }, start, { [bucket.field]: n });
      });
    }
  }
  return { points };
}

/** The aggregator's records merged per series and window (as InfluxDB would store them), without the privacy bookkeeping and trips. */
function asPoints(records: readonly AggregateRecord[]): Map<string, Record<string, number>> {
  const points = new Map<string, Record<string, number>>();
  for (const r of records) {
    if (r.measurement === 'privacy' || r.measurement === 'travel_times') continue;
    const key = pointKey(r.measurement, r.tags, r.windowStart);
    const before = points.get(key) ?? {};
    for (const field of Object.keys(r.fields)) expect(before, `${key} ${field} released twice`).not.toHaveProperty(field);
    points.set(key, { ...before, ...r.fields });
  }
  return points;
}

describe('the aggregator against a naive reference model', () => {
  it('assigns a person seen equally often at two cells to the earliest sighting, not the first to arrive (found by this test)', () => {
    const plate = (deviceId: string, at: number) => carSighting(PEOPLE[3]!, deviceId, T0 + at, { speedKmh: 0 });
    const people = createPersonWindows();
    for (const s of [plate('TL-0002', 10_001), plate('TL-0003', 10_001), plate('TL-0002', 10_002), plate('TL-0003', 10_000)]) people.add(s, WINDOW, EPOCH, 0);
    expect(people.closeDue(T0 + EPOCH).windows[0]!.cells.map((c) => c.deviceId)).toEqual(['TL-0003']);
  });

  it('counts the true people per cell (before k and noise) as the reference does, whatever the arrival order', () => {
    fc.assert(
      fc.property(stream, (events) => {
        const sightings = events.flatMap((e) => (e.type === 'sighting' ? [e.record] : []));
        const people = createPersonWindows();
        for (const s of sightings) people.add(s, WINDOW, EPOCH, 0);
        const actual = new Map<string, number>();
        for (const w of people.closeDue(T0 + 100 * EPOCH).windows) for (const c of w.cells) actual.set(`${w.source}|${w.windowStart}|${c.deviceId}`, c.people);
        const expected = new Map<string, number>();
        const distinct = [...new Map(sightings.map((s) => [`${s.source}|${s.deviceId}|${s.pseudonym}|${s.ts}`, s])).values()];
        for (const [key, list] of group(distinct, (s) => `${s.source}|${windowOf(s.ts, WINDOW)}`)) {
          for (const [device, cell] of trueCells(list)) expected.set(`${key}|${device}`, cell.speeds.length);
        }
        expect(new Map([...actual].sort())).toEqual(new Map([...expected].sort()));
      }),
      { seed: 0x1e7e, numRuns: 300 },
    );
  });

  it('releases exactly the reference figures for any order, redelivery and closing of windows', () => {
    fc.assert(
      fc.property(stream, (events) => {
        const actual = asPoints(runAggregator(events));
        const { points: expected } = reference(events);
        expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
        for (const [key, fields] of expected) {
          const got = actual.get(key)!;
          expect(Object.keys(got).sort(), key).toEqual(Object.keys(fields).sort());
          for (const [field, value] of Object.entries(fields)) {
            if (Number.isInteger(value)) expect(got[field], `${key} ${field}`).toBe(value);
            else expect(got[field], `${key} ${field}`).toBeCloseTo(value, 9);
          }
        }
      }),
      // Each run aggregates a stream of up to 290 events twice (4.5 s for 300 runs here, 6.6 s
      // on an idle machine of the CI kind): 100 runs keep it well inside the limit on a slow one.
      { seed: 0x1e7e, numRuns: 100 },
    );
  });

  it('gives the same figures whatever the arrival order of the same records', () => {
    fc.assert(
      fc.property(stream, fc.integer(), (events, seed) => {
        const records = events.filter((e) => e.type !== 'close');
        const shuffled = fc.sample(fc.shuffledSubarray(records, { minLength: records.length, maxLength: records.length }), { seed, numRuns: 1 })[0]!;
        expect(asPoints(runAggregator(shuffled))).toEqual(asPoints(runAggregator(records)));
      }),
      { seed: 0x1e7e, numRuns: 60 },
    );
  });
});
