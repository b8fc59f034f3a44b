// Stage 1 of the processor, one per input partition: folds the partition's readings or
// pseudonymous sightings into tumbling windows and, when a window closes, emits a partial — the
// window's additive, non-individual figures for that partition:
//   readings   per device: environmental accumulators (sum, n, min, max, trues) and the sums of
//              person-derived counts (a loop's vehicles);
//   sightings  per cell: distinct people (and the histogram of their speeds, vehicles); per pair
//              of junctions: a histogram of trip durations;
//   dwell      at the end of a pseudonym epoch, per cell: people per dwell-time bucket.
// Readings are keyed by device and sightings by pseudonym, and person-windows.ts bounds every
// person to one cell, one speed and one trip per window and one dwell time per epoch, so these
// figures add up across partitions: the releaser (releaser.ts) merges the partials of every
// partition and only then applies k, differencing, noise and the ε ledger (docs/privacy.md).
//
// A partial carries no pseudonym and no per-person value. The per-pseudonym state stays here
// and is dropped when its epoch ends.
//
// At every close the partition reports its newest closed window of every series, empty or not,
// so the releaser can tell a window that had nothing in this partition from one whose partial
// has not arrived yet. Each partial's `coversFrom` is where the partition's previous partial of
// the series ended: the windows in between had nothing here. It is 0 for a partition read from
// the beginning (it has seen all the data Kafka still holds), and after a restart or rebalance
// the end of the last window the previous owner emitted (from the committed offsets' metadata).
import type {
  CellPartial,
  DevicePartial,
  DeviceKind,
  DwellPartial,
  ReadingRecord,
  SightingRecord,
  SightingSource,
  TripPartial,
  WindowPartialRecord,
} from '@lethe/schemas';
import { DEVICE_KINDS, SIGHTING_SOURCES } from '@lethe/schemas';
import { dwellBuckets, histogram, SPEED_BINS, TRAVEL_BINS } from './bins.ts';
import { systemClock, type Clock } from './clock.ts';
import { createPersonWindows, type EpochFigures, type PersonWindowFigures } from './person-windows.ts';
import type { Policy } from './policy.ts';
import { windowStart } from './windows.ts';

export type AddOutcome = 'accepted' | 'duplicate' | 'late' | 'expired' | 'future';

/** Which input topic a stage summarizes: minimized readings or pseudonymous sightings. */
export type PartialInput = 'readings' | 'sightings';

/** The device kind whose devices see a sighting source. */
export const SOURCE_KIND = { wifi: 'lamppost', plate: 'traffic-light' } as const satisfies Record<SightingSource, DeviceKind>;
/** Sources whose dwell times are released (a vehicle's dwell at a junction is not). */
export const DWELL_SOURCES: readonly SightingSource[] = ['wifi'];

/** One series of partials: windows of one kind of figures, released in window order. */
export interface PartialSeries {
  /** `readings:<kind>`, `sightings:<source>` or `dwell:<source>`. */
  id: string;
  type: WindowPartialRecord['type'];
  input: PartialInput;
  kind: DeviceKind;
  source?: SightingSource;
  /** Window size (ms): the kind's window, or its pseudonym epoch for dwell times. */
  size: number;
}

/** Every series the policy gives rise to, in release order within one window end. */
export function partialSeries(policy: Policy): PartialSeries[] {
  return [
    ...DEVICE_KINDS.map((kind): PartialSeries => ({ id: `readings:${kind}`, type: 'readings', input: 'readings', kind, size: policy.kinds[kind].window })),
    ...SIGHTING_SOURCES.map((source): PartialSeries => {
      const kind = SOURCE_KIND[source];
      return { id: `sightings:${source}`, type: 'sightings', input: 'sightings', kind, source, size: policy.kinds[kind].window };
    }),
    ...DWELL_SOURCES.map((source): PartialSeries => {
      const kind = SOURCE_KIND[source];
      return { id: `dwell:${source}`, type: 'dwell', input: 'sightings', kind, source, size: policy.kinds[kind].epoch };
    }),
  ];
}

/** The series a partial belongs to. */
export function seriesOf(partial: WindowPartialRecord): string {
  return partial.type === 'readings' ? `readings:${partial.kind}` : `${partial.type}:${partial.source}`;
}

/** The Kafka key of a partial: its series and window. */
export function partialKey(partial: WindowPartialRecord): string {
  return `${seriesOf(partial)}|${partial.windowStart}`;
}

/**
 * A numeric field's accumulator. The sum is kept as a whole number of millionths, so it does not
 * depend on the order the readings arrived in: a device's readings can reach Kafka in another
 * order through another gateway, MQTT connection or shard, and floating-point additions in
 * another order differ in their last bits (found comparing topologies figure for figure,
 * test/integration/topologies.test.ts). Exact up to 2^53 millionths (9 × 10^9 in the field's
 * unit), far above any sensor's window total.
 */
interface NumericAcc {
  micros: number;
  min: number;
  max: number;
  n: number;
}

const MICROS = 1e6;
const toMicros = (value: number) => Math.round(value * MICROS);

interface DeviceAcc {
  district: string;
  readings: number;
  numeric: Map<string, NumericAcc>;
  trues: Map<string, number>;
  counts: Map<string, number>;
}

interface ReadingWindow {
  kind: DeviceKind;
  start: number;
  end: number;
  /** deviceId:seq already counted, so redelivered messages are not counted twice. */
  seen: Set<string>;
  devices: Map<string, DeviceAcc>;
}

export interface PartialStageOptions {
  policy: Policy;
  /** The input partition this stage summarizes; every partial names it. */
  input: { type: PartialInput; topic: string; partition: number };
  clock?: Clock;
  /**
   * Records stamped further ahead of our clock are refused (default twice the policy's
   * `rawData.maxFutureSkew`, which the gateway enforces): the gateway never writes them, and one would hold its window — and with it the
   * partition's offset commits — open until that time.
   */
  maxFutureMs?: number;
}

export interface PartialStage {
  readonly input: PartialStageOptions['input'];
  addReading(record: ReadingRecord): AddOutcome;
  addSighting(record: SightingRecord): AddOutcome;
  /** Closes every window that ended by `cutoff` and returns one partial per series and window, empty ones included. */
  closeDue(cutoff: number): WindowPartialRecord[];
  /** Every window ending at or before this time has been emitted; its records are late. */
  readonly closedUpTo: number;
  /** After a restart or a rebalance: the previous owner emitted every window up to this time (0: nothing, a fresh start). */
  restore(closedUpTo: number): void;
  /** End of the window (or epoch) that holds a record, i.e. when it stops being needed. */
  heldUntil(kind: DeviceKind, ts: number, sighting: boolean): number;
  openWindows(): number;
  /** Pseudonyms held in memory (per-person state). */
  pseudonymsHeld(): number;
  /** Sightings held one by one (those of windows not summarized yet). */
  sightingsHeld(): number;
}

const sortedBy = <T>(entries: Iterable<[string, T]>) => [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function devicePartial(deviceId: string, acc: DeviceAcc): DevicePartial {
  return {
    deviceId,
    district: acc.district,
    readings: acc.readings,
    numeric: Object.fromEntries([...acc.numeric].map(([name, num]) => [name, { sum: num.micros / MICROS, n: num.n, min: num.min, max: num.max }])),
    trues: Object.fromEntries(acc.trues),
    counts: Object.fromEntries(acc.counts),
  };
}

/** Per-person lists → additive histograms, in the bins the anonymizer releases. */
function sightingCells(f: PersonWindowFigures): { cells: CellPartial[]; trips: TripPartial[] } {
  return {
    cells: f.cells.map((c) => ({
      deviceId: c.deviceId,
      district: c.district,
      people: c.people,
      ...(f.source === 'plate' ? { speedBins: histogram(c.speeds, SPEED_BINS) } : {}),
    })),
    trips: f.trips.map((t) => ({
      from: t.from,
      fromDistrict: t.fromDistrict,
      to: t.to,
      toDistrict: t.toDistrict,
      durationBins: histogram(t.durations, TRAVEL_BINS),
    })),
  };
}

function dwellCells(e: EpochFigures): DwellPartial[] {
  return e.dwell.map((c) => ({ deviceId: c.deviceId, district: c.district, buckets: dwellBuckets(c.dwells) }));
}

export function createPartialStage({ policy, input, clock = systemClock, maxFutureMs = 2 * policy.rawData.maxFutureSkew }: PartialStageOptions): PartialStage {
  const series = partialSeries(policy).filter((s) => s.input === input.type);
  const windows = new Map<string, ReadingWindow>();
  const people = createPersonWindows();
  let closedUpTo = 0;
  /** Per series, the end of the last window emitted; absent until the first one (a fresh start covers from 0). */
  const emitted = new Map<string, number>();

  function isLate(kind: DeviceKind, ts: number): boolean {
    const size = policy.kinds[kind].window;
    return windowStart(ts, size) + size <= closedUpTo;
  }

  function only(type: PartialInput): void {
    if (input.type !== type) throw new Error(`The stage of ${input.topic}/${input.partition} takes ${input.type}, not ${type}`);
  }

  /**
   * Partials of one series for the windows that ended by `cutoff`: each window with records, and
   * the newest one even if empty, so the releaser hears from this partition at every close. Runs
   * of empty windows in between are spanned by the next partial's `coversFrom` rather than sent
   * one by one (a partition catching up on an idle hour sends one partial, not sixty).
   */
  function emit<T extends WindowPartialRecord>(s: PartialSeries, cutoff: number, data: ReadonlyMap<number, T>, empty: (start: number, end: number) => T): T[] {
    const last = windowStart(cutoff, s.size);
    const previous = emitted.get(s.id);
    if (previous !== undefined && previous >= last) return [];
    const starts = [...data.keys()].filter((start) => start + s.size <= last && (previous === undefined || start >= previous)).sort((a, b) => a - b);
    if (starts.at(-1) !== last - s.size) starts.push(last - s.size);
    const out: T[] = [];
    let coversFrom = previous ?? 0;
    for (const start of starts) {
      out.push({ ...(data.get(start) ?? empty(start, start + s.size)), coversFrom });
      coversFrom = start + s.size;
    }
    emitted.set(s.id, last);
    return out;
  }

  const base = (start: number, end: number) => ({
    v: 1 as const,
    windowStart: start,
    windowEnd: end,
    coversFrom: 0,
    topic: input.topic,
    partition: input.partition,
  });

  return {
    input,

    addReading(record) {
      only('readings');
      if (record.ts < clock.now() - policy.rawData.ttl) return 'expired';
      if (record.ts > clock.now() + maxFutureMs) return 'future';
      if (isLate(record.kind, record.ts)) return 'late';
      const size = policy.kinds[record.kind].window;
      const start = windowStart(record.ts, size);
      const id = `${record.kind}|${start}`;
      let w = windows.get(id);
      if (!w) windows.set(id, (w = { kind: record.kind, start, end: start + size, seen: new Set(), devices: new Map() }));
      const seenId = `${record.deviceId}:${record.seq}`;
      if (w.seen.has(seenId)) return 'duplicate';
      w.seen.add(seenId);
      let acc = w.devices.get(record.deviceId);
      if (!acc) w.devices.set(record.deviceId, (acc = { district: record.district, readings: 0, numeric: new Map(), trues: new Map(), counts: new Map() }));
      acc.readings++;
      const fields = policy.kinds[record.kind].fields;
      for (const [name, raw] of Object.entries(record.values)) {
        // A presence-dependent reading is clamped to its range: the noise of its mean is calibrated to it.
        const range = fields[name]?.range;
        const value = typeof raw === 'number' && range ? Math.min(range[1], Math.max(range[0], raw)) : raw;
        if (typeof value === 'number') {
          // Validated by the policy schema: a person-derived reading field is a count (summed).
          if (fields[name]?.class === 'person-derived') {
            acc.counts.set(name, (acc.counts.get(name) ?? 0) + value);
            continue;
          }
          const num = acc.numeric.get(name);
          if (num) {
            num.micros += toMicros(value);
            num.n++;
            num.min = Math.min(num.min, value);
            num.max = Math.max(num.max, value);
          } else {
            acc.numeric.set(name, { micros: toMicros(value), n: 1, min: value, max: value });
          }
        } else if (typeof value === 'boolean') {
          acc.trues.set(name, (acc.trues.get(name) ?? 0) + (value ? 1 : 0));
        }
      }
      return 'accepted';
    },

    addSighting(record) {
      only('sightings');
      if (record.ts < clock.now() - policy.rawData.ttl) return 'expired';
      if (record.ts > clock.now() + maxFutureMs) return 'future';
      // A sighting serves its window and its epoch (dwell times, trips): it is late only once
      // the epoch is closed. Windows already emitted are not emitted again (person-windows.ts).
      const kind = policy.kinds[record.kind];
      if (windowStart(record.ts, kind.epoch) + kind.epoch <= closedUpTo) return 'late';
      return people.add(record, kind.window, kind.epoch, closedUpTo);
    },

    closeDue(cutoff) {
      // Nothing ends in (closedUpTo, cutoff]: the same windows are open either way (cheap per record).
      if (cutoff <= closedUpTo || series.every((s) => windowStart(cutoff, s.size) === windowStart(closedUpTo, s.size))) return [];
      const out: WindowPartialRecord[] = [];
      if (input.type === 'readings') {
        for (const s of series) {
          const data = new Map<number, WindowPartialRecord & { type: 'readings' }>();
          for (const [id, w] of windows) {
            if (w.kind !== s.kind || w.end > cutoff) continue;
            data.set(w.start, {
              ...base(w.start, w.end),
              type: 'readings',
              kind: w.kind,
              devices: sortedBy(w.devices).map(([deviceId, acc]) => devicePartial(deviceId, acc)),
            });
            windows.delete(id);
          }
          out.push(...emit(s, cutoff, data, (start, end) => ({ ...base(start, end), type: 'readings', kind: s.kind, devices: [] })));
        }
      } else {
        const closed = people.closeDue(cutoff);
        for (const s of series) {
          const source = s.source!;
          if (s.type === 'sightings') {
            const data = new Map<number, WindowPartialRecord & { type: 'sightings' }>();
            for (const f of closed.windows)
              if (f.source === source) data.set(f.windowStart, { ...base(f.windowStart, f.windowEnd), type: 'sightings', source, ...sightingCells(f) });
            out.push(...emit(s, cutoff, data, (start, end) => ({ ...base(start, end), type: 'sightings', source, cells: [], trips: [] })));
          } else {
            const data = new Map<number, WindowPartialRecord & { type: 'dwell' }>();
            for (const e of closed.epochs)
              if (e.source === source) data.set(e.epochStart, { ...base(e.epochStart, e.epochEnd), type: 'dwell', source, cells: dwellCells(e) });
            out.push(...emit(s, cutoff, data, (start, end) => ({ ...base(start, end), type: 'dwell', source, cells: [] })));
          }
        }
      }
      closedUpTo = cutoff;
      return out;
    },

    get closedUpTo() {
      return closedUpTo;
    },
    restore(ms) {
      if (ms <= closedUpTo) return;
      closedUpTo = ms;
      for (const s of series) emitted.set(s.id, Math.max(emitted.get(s.id) ?? 0, windowStart(ms, s.size)));
    },
    heldUntil(kind, ts, sighting) {
      const size = sighting ? policy.kinds[kind].epoch : policy.kinds[kind].window;
      return windowStart(ts, size) + size;
    },
    openWindows: () => windows.size + people.openEpochs(),
    pseudonymsHeld: () => people.pseudonymsHeld(),
    sightingsHeld: () => people.sightingsHeld(),
  };
}
