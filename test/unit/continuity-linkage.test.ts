// P9, continuity linkage, measured in pure code: the simulated city at its quietest (Hong Kong,
// 03:00) goes through the gateway's ingest stage around pseudonym-epoch boundaries, and the
// attacker of test/support/continuity-linkage.ts pairs the pseudonyms seen at each lamppost just
// before a boundary with those seen there just after. "Before" is the record format the gateway
// wrote until P9 (exact time, the reading's sequence number, the sighting's position in it, in the
// device's order), rebuilt here from the same readings and keys; "after" is what ingest writes
// now. The truth comes from the key provider the test owns. test/privacy/p9-continuity-linkage
// runs the same attack on the real gateway and Kafka.
import { createHash } from 'node:crypto';
import {
  createIngestStage,
  createPersonWindows,
  createKindKeyProviders,
  createPseudonymizers,
  DEFAULT_POLICY_PATH,
  dwellBuckets,
  histogram,
  loadPolicy,
  ManualClock,
  mixEnd,
  TRAVEL_BINS,
  type OutRecord,
} from '@lethe/privacy';
import {
  loadFleet,
  DEFAULT_FLEET_PATH,
  sightingsOf,
  SightingsRecordSchema,
  type DeviceKind,
  type LamppostReadingInput,
  type SightingRecord,
  type TrafficLightReadingInput,
} from '@lethe/schemas';
import { createCity, loadScenario, type Scenario, type SimulatedReading } from '@lethe/simulator';
import { describe, expect, it } from 'vitest';
import { continuityAttack, describeFigures, seededRandom, type ObservedSighting } from '../support/continuity-linkage.ts';

const policy = loadPolicy(DEFAULT_POLICY_PATH);
const fleet = loadFleet(DEFAULT_FLEET_PATH);
const EPOCH = policy.kinds.lamppost.epoch;
const TICK_SECONDS = 5;
const LOOK_MS = 60_000;
const PARTITIONS = 3;
/** 03:00 in Hong Kong (UTC+8) on an epoch boundary. */
const FIRST_BOUNDARY = Date.UTC(2026, 0, 1, 19, 0, 0);
const quietest: Scenario = { ...loadScenario('normal-day'), hour: 3 };

interface Run {
  before: ObservedSighting[];
  /** What ingest writes, in the order the gateway writes it: the first slot of each epoch held and shuffled (the write mix). */
  after: ObservedSighting[];
  /** The same records in the order they were made (the gateway before the write mix). */
  unmixed: ObservedSighting[];
  /** Sighting records, old format and new, for the figures the processor computes. */
  oldRecords: SightingRecord[];
  newRecords: SightingRecord[];
  truth: Map<string, string>;
}

/** Kafka's producer puts a keyed record on partition hash(key) mod n; any fixed hash shows the same. */
const partitionOf = (key: string) => createHash('sha256').update(key).digest()[0]! % PARTITIONS;

/** Offsets of one topic: the next record written to a partition takes its next offset. */
function topicLog() {
  const next = Array.from({ length: PARTITIONS }, () => 0);
  return (partition: number) => ({ partition, offset: next[partition]!++ });
}

/** Runs the city from `from` to `to` (ms) through ingest, keeping both record formats. */
async function simulate(seed: string, scenario: Scenario, from: number, to: number, kinds: readonly DeviceKind[]): Promise<Run> {
  const clock = new ManualClock(from);
  const pseudonymizers = createPseudonymizers(policy, createKindKeyProviders(policy, { clock }));
  const stage = createIngestStage({
    policy,
    fleet,
    clock,
    pseudonymizers,
    sightingsPartition: partitionOf,
  });
  const city = createCity({ devices: fleet.devices.filter((d) => kinds.includes(d.kind)), scenario, seed, tickSeconds: TICK_SECONDS });
  const run: Run = { before: [], after: [], unmixed: [], oldRecords: [], newRecords: [], truth: new Map() };
  const oldLog = topicLog();
  const newLog = topicLog();
  const unmixedLog = topicLog();
  // The write mix (services/gateway/src/write-mix.ts): records held until their mix ends, then written shuffled.
  // A record of the sightings topic holds a reading's sightings for one partition: they share its offset.
  const mixes = new Map<number, Array<{ records: SightingRecord[]; partition: number; timestamp: number }>>();
  const written = (records: SightingRecord[], at: { partition: number; offset: number }, timestamp: number) =>
    records.map((record) => ({ ...record, kafkaTimestamp: timestamp, ...at }));
  const shuffle = seededRandom(0x51);
  const writeMixes = (upTo: number) => {
    for (const [end, held] of [...mixes].sort(([a], [b]) => a - b)) {
      if (end > upTo) continue;
      mixes.delete(end);
      for (let i = held.length - 1; i > 0; i--) {
        const j = Math.floor(shuffle() * (i + 1));
        [held[i], held[j]] = [held[j]!, held[i]!];
      }
      for (const h of held) run.after.push(...written(h.records, newLog(h.partition), h.timestamp));
    }
  };
  for (let now = from; now < to; now += TICK_SECONDS * 1000) {
    // Readings reach the gateway a little after they were taken.
    clock.set(now + 50);
    writeMixes(now + 50);
    for (const reading of city.tick(new Date(now)) as SimulatedReading[]) {
      const payload = reading.payload as LamppostReadingInput & TrafficLightReadingInput;
      const items: Array<{ id: string; speedKmh?: number }> =
        reading.kind === 'lamppost'
          ? (payload.wifiProbes ?? []).map((p) => ({ id: p.mac }))
          : (payload.plateReads ?? []).map((p) => ({ id: p.plate, speedKmh: p.speedKmh }));
      const source = reading.kind === 'lamppost' ? 'wifi' : 'plate';
      const result = await stage.ingest(reading.topic, Buffer.from(JSON.stringify(payload)));
      if (!result.ok) throw new Error(`${result.rejected.reason}: ${result.rejected.detail}`);
      if (items.length === 0) continue;
      // The same keys: the pseudonyms the gateway gave, and the truth behind them.
      const named = (await pseudonymizers[reading.kind].pseudonymize(
        source,
        now,
        items.map((i) => i.id),
      ))!;
      named.pseudonyms.forEach((p, i) => run.truth.set(p, createHash('sha256').update(items[i]!.id).digest('hex')));
      const device = fleet.get(reading.deviceId)!;
      items.forEach((item, index) => {
        const record: SightingRecord = {
          v: 1,
          source,
          pseudonym: named.pseudonyms[index]!,
          epoch: named.epoch,
          kind: reading.kind,
          deviceId: device.id,
          district: device.district,
          ts: now,
          ...(item.speedKmh === undefined ? {} : { speedKmh: item.speedKmh }),
        };
        run.oldRecords.push(record);
        run.before.push({ ...record, kafkaTimestamp: now, seq: payload.seq, index, ...oldLog(partitionOf(record.pseudonym)) });
      });
      const end = mixEnd(policy, result.ts);
      for (const out of result.records.filter((r: OutRecord) => r.topic.endsWith('sightings.v1'))) {
        const records = sightingsOf(SightingsRecordSchema.parse(JSON.parse(out.value)));
        run.newRecords.push(...records);
        run.unmixed.push(...written(records, unmixedLog(out.partition!), out.timestamp!));
        if (end !== undefined && end > now + 50)
          (mixes.get(end) ?? mixes.set(end, []).get(end)!).push({ records, partition: out.partition!, timestamp: out.timestamp! });
        else run.after.push(...written(records, newLog(out.partition!), out.timestamp!));
      }
    }
  }
  writeMixes(Number.POSITIVE_INFINITY);
  return run;
}

describe('P9: continuity linkage across a pseudonym epoch, in pure code', () => {
  it(
    'gives an insider joining pseudonyms across the boundary at Hong Kong 03:00 no more than chance from what the records say',
    { timeout: 120_000 },
    async () => {
      // The keys, and so the partitions and the order within a record, are random: the join rate is
      // a sample. 80 boundaries give ~2,000 targets, a standard error of ~1 point, so the 5-point
      // bound below is a finding about the format, not a coin toss (20 boundaries, ~2 points of
      // noise, put a residual advantage of ~2 points over the bound in one CI run).
      const BOUNDARIES = 80;
      const before: ObservedSighting[] = [];
      const after: ObservedSighting[] = [];
      const unmixed: ObservedSighting[] = [];
      const truth = new Map<string, string>();
      for (let b = 0; b < BOUNDARIES; b++) {
        const boundary = FIRST_BOUNDARY + b * EPOCH;
        // A minute of warm-up so the street is as busy as it gets at that hour when the attacker starts looking.
        const run = await simulate(`p9-continuity-${b}`, quietest, boundary - LOOK_MS - 60_000, boundary + LOOK_MS, ['lamppost']);
        before.push(...run.before);
        after.push(...run.after);
        unmixed.push(...run.unmixed);
        for (const [p, id] of run.truth) truth.set(p, id);
      }
      const attack = (records: ObservedSighting[], useOffsets: boolean, slotMs: number) =>
        continuityAttack(records, (p) => truth.get(p), { epochMs: EPOCH, lookMs: LOOK_MS, useOffsets, slotMs, random: seededRandom(0x9) });
      const old = attack(before, false, 1);
      const content = attack(after, false, 60_000);
      const offsets = attack(after, true, 60_000);
      const offsetsUnmixed = attack(unmixed, true, 60_000);
      console.log(
        [
          `continuity linkage at Hong Kong 03:00, ${BOUNDARIES} epoch boundaries, ${LOOK_MS / 1000} s either side, every lamppost:`,
          describeFigures('  before P9 (exact times, sequence numbers, positions)', old),
          describeFigures('  after P9, from the records and Kafka timestamps', content),
          describeFigures('  after P9, with partitions and offsets, without the write mix', offsetsUnmixed),
          describeFigures('  after P9, with partitions and offsets, with the write mix', offsets),
        ].join('\n'),
      );
      // The attack works on the old format: it is the finding, reproduced.
      expect(old.targets).toBeGreaterThan(100);
      expect(old.advantage).toBeGreaterThan(0.3);
      // From what a record says, the insider does no better than a guess among the phones at the lamppost.
      expect(content.targets).toBe(old.targets);
      expect(content.advantage).toBeLessThan(0.05);
      // The order in which records are written told much of when (positive control: without the
      // write mix); with the first slot of each epoch written at once, shuffled, it tells nothing.
      expect(offsetsUnmixed.advantage).toBeGreaterThan(0.15);
      expect(offsets.targets).toBe(old.targets);
      expect(offsets.advantage).toBeLessThan(0.05);
    },
  );

  it(
    'keeps every count of people per window, and moves few people between cells, dwell buckets and travel-time bins (measured at midday)',
    { timeout: 90_000 },
    async () => {
      // One epoch at 13:00, every lamppost and junction, cars at their real driving times.
      const start = Date.UTC(2026, 0, 1, 5, 0, 0);
      const run = await simulate('p9-figures', { ...loadScenario('normal-day'), hour: 13 }, start, start + EPOCH, ['lamppost', 'traffic-light']);
      const figures = (records: SightingRecord[]) => {
        const people = createPersonWindows();
        for (const r of records) people.add(r, policy.kinds[r.kind].window, policy.kinds[r.kind].epoch, 0);
        return people.closeDue(start + 2 * EPOCH);
      };
      const [old, now] = [figures(run.oldRecords), figures(run.newRecords)];
      /** Per key, a count; `moved` is half the L1 distance: how many people (or trips) changed place. */
      const compare = (a: Map<string, number>, b: Map<string, number>) => {
        let moved = 0;
        let total = 0;
        for (const key of new Set([...a.keys(), ...b.keys()])) {
          moved += Math.abs((a.get(key) ?? 0) - (b.get(key) ?? 0));
          total += a.get(key) ?? 0;
        }
        return { moved: moved / 2, total, share: total === 0 ? 0 : moved / 2 / total };
      };
      const tally = (f: typeof old, source: string, byCell: boolean) => {
        const m = new Map<string, number>();
        for (const w of f.windows) {
          if (w.source !== source) continue;
          for (const c of w.cells) {
            const key = byCell ? `${w.windowStart}|${c.deviceId}` : `${w.windowStart}`;
            m.set(key, (m.get(key) ?? 0) + c.people);
          }
        }
        return m;
      };
      const pedestrians = compare(tally(old, 'wifi', false), tally(now, 'wifi', false));
      const vehicles = compare(tally(old, 'plate', false), tally(now, 'plate', false));
      const pedestrianCells = compare(tally(old, 'wifi', true), tally(now, 'wifi', true));
      const vehicleCells = compare(tally(old, 'plate', true), tally(now, 'plate', true));
      const dwell = (f: typeof old) => {
        const m = new Map<string, number>();
        for (const e of f.epochs)
          if (e.source === 'wifi')
            for (const c of e.dwell)
              dwellBuckets(c.dwells).forEach((n, b) => m.set(`${e.epochStart}|${c.deviceId}|${b}`, (m.get(`${e.epochStart}|${c.deviceId}|${b}`) ?? 0) + n));
        return m;
      };
      const dwellMoves = compare(dwell(old), dwell(now));
      const trips = (f: typeof old) => {
        const bins = new Map<string, number>();
        const durations: number[] = [];
        for (const w of f.windows)
          for (const t of w.trips) {
            durations.push(...t.durations);
            histogram(t.durations, TRAVEL_BINS).forEach((n, b) =>
              bins.set(`${w.windowStart}|${t.from}>${t.to}|${b}`, (bins.get(`${w.windowStart}|${t.from}>${t.to}|${b}`) ?? 0) + n),
            );
          }
        return { bins, mean: durations.reduce((x, y) => x + y, 0) / Math.max(1, durations.length), n: durations.length };
      };
      const [oldTrips, newTrips] = [trips(old), trips(now)];
      const tripMoves = compare(oldTrips.bins, newTrips.bins);
      const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
      console.log(
        [
          `figures of one epoch at midday, exact times (before P9) against slots (Wi-Fi 60 s, plates 10 s):`,
          `  pedestrians per window: ${pedestrians.moved} of ${pedestrians.total} differ; vehicles per window: ${vehicles.moved} of ${vehicles.total} differ`,
          `  pedestrians assigned to another lamppost in their window: ${pedestrianCells.moved} of ${pedestrianCells.total} (${pct(pedestrianCells.share)})`,
          `  vehicles assigned to another junction in their window: ${vehicleCells.moved} of ${vehicleCells.total} (${pct(vehicleCells.share)})`,
          `  pedestrians in another dwell bucket: ${dwellMoves.moved} of ${dwellMoves.total} (${pct(dwellMoves.share)})`,
          `  trips: ${oldTrips.n} before, ${newTrips.n} after; in another 30 s bin or pair: ${tripMoves.moved} (${pct(tripMoves.share)}); mean travel time ${oldTrips.mean.toFixed(1)} s before, ${newTrips.mean.toFixed(1)} s after`,
        ].join('\n'),
      );
      expect(pedestrians.total).toBeGreaterThan(1000);
      expect(vehicles.total).toBeGreaterThan(1000);
      expect(pedestrians.moved + vehicles.moved, 'every window counts the same people').toBe(0);
      expect(pedestrianCells.share).toBeLessThan(0.05);
      expect(vehicleCells.share).toBeLessThan(0.05);
      expect(dwellMoves.share).toBeLessThan(0.25);
      expect(tripMoves.share).toBeLessThan(0.5);
      expect(Math.abs(newTrips.mean - oldTrips.mean)).toBeLessThan(10);
    },
  );
});
