// The processor's stage, transport-free: folds minimized readings and pseudonymous sightings
// into tumbling windows and, when a window closes, turns it into anonymous aggregates.
// Environmental figures are summarized per device; person-derived figures go through the
// anonymizer (k-anonymity, differencing protection, differential privacy, budget ledger).
// Records older than the raw-data TTL are refused, and per-pseudonym state never outlives
// its pseudonym epoch (person-windows.ts).
import type { AggregateRecord, DeviceKind, ReadingRecord, SightingRecord } from '@lethe/schemas';
import { createAnonymizer, type ReleaseReport, type StreamBudget } from './anonymizer.ts';
import { systemClock, type Clock } from './clock.ts';
import { utcDay, type BudgetLedger } from './ledger.ts';
import type { NoiseSource } from './noise.ts';
import { createPersonWindows } from './person-windows.ts';
import type { KindPolicy, Policy } from './policy.ts';
import { snakeCase, windowStart } from './windows.ts';

export type AddOutcome = 'accepted' | 'duplicate' | 'late' | 'expired';

interface NumericAcc {
  sum: number;
  min: number;
  max: number;
  n: number;
}

interface DeviceAcc {
  district: string;
  readings: number;
  numeric: Map<string, NumericAcc>;
  trues: Map<string, number>;
}

interface WindowState {
  kind: DeviceKind;
  start: number;
  end: number;
  /** deviceId:seq already counted, so redelivered messages are not counted twice. */
  seen: Set<string>;
  devices: Map<string, DeviceAcc>;
}

export interface AggregatorOptions {
  policy: Policy;
  /** Keyed source of the differential-privacy noise. */
  noise: NoiseSource;
  /** The ε ledger; restored from the last committed state by the caller. */
  ledger: BudgetLedger;
  clock?: Clock;
  /** How long after its end a window waits for stragglers before it is closed. */
  graceMs?: number;
}

export interface ClosedWindows {
  /** Anonymous aggregates, including one `privacy` record per release with the ε spent. */
  records: AggregateRecord[];
  reports: ReleaseReport[];
}

export interface Aggregator {
  addReading(record: ReadingRecord): AddOutcome;
  addSighting(record: SightingRecord): AddOutcome;
  /** Closes every window whose end + grace has passed and returns its releases. */
  closeDue(now?: number): ClosedWindows;
  /** All windows ending at or before this time have been emitted; their records are late. */
  readonly closedUpTo: number;
  /** Used after a restart: windows up to this time were emitted by the previous run. */
  restoreClosedUpTo(ms: number): void;
  /** End of the window (or epoch) that holds a record, i.e. when it stops being needed. */
  heldUntil(kind: DeviceKind, ts: number, sighting: boolean): number;
  openWindows(): number;
  /** Number of pseudonyms held in memory (per-person state). */
  pseudonymsHeld(): number;
}

function mergeInto(into: DeviceAcc, from: DeviceAcc): void {
  into.readings += from.readings;
  for (const [name, num] of from.numeric) {
    const acc = into.numeric.get(name);
    if (!acc) into.numeric.set(name, { ...num });
    else {
      acc.sum += num.sum;
      acc.n += num.n;
      acc.min = Math.min(acc.min, num.min);
      acc.max = Math.max(acc.max, num.max);
    }
  }
  for (const [name, n] of from.trues) into.trues.set(name, (into.trues.get(name) ?? 0) + n);
}

/** Measurement name of a device kind's own readings (traffic-light → traffic_light). */
export function measurementOf(kind: DeviceKind): string {
  return snakeCase(kind.replace('-', '_'));
}

const SOURCE_KIND = { wifi: 'lamppost', plate: 'traffic-light' } as const satisfies Record<string, DeviceKind>;

function budgetOf(kind: KindPolicy): StreamBudget {
  return { k: kind.k, epsilonPerRelease: kind.epsilonPerRelease, epsilonPerDay: kind.epsilonPerDay };
}

export function createAggregator({ policy, noise, ledger, clock = systemClock, graceMs = 5_000 }: AggregatorOptions): Aggregator {
  const windows = new Map<string, WindowState>();
  const people = createPersonWindows();
  const anonymizer = createAnonymizer({ noise, ledger });
  let closedUpTo = 0;

  function isLate(kind: DeviceKind, ts: number): boolean {
    const size = policy.kinds[kind].window;
    return windowStart(ts, size) + size <= closedUpTo;
  }

  function windowFor(kind: DeviceKind, ts: number): WindowState {
    const size = policy.kinds[kind].window;
    const start = windowStart(ts, size);
    const id = `${kind}|${start}`;
    let w = windows.get(id);
    if (!w) windows.set(id, (w = { kind, start, end: start + size, seen: new Set(), devices: new Map() }));
    return w;
  }

  /** Environmental fields of an accumulator, as the policy says to summarize them. */
  function environmentalFields(kind: KindPolicy, acc: DeviceAcc): Record<string, number> {
    const fields: Record<string, number> = { readings: acc.readings };
    for (const [name, num] of acc.numeric) {
      const rule = kind.fields[name];
      if (rule?.class === 'person-derived') continue;
      for (const how of rule?.aggregate ?? ['mean', 'max']) {
        const value = how === 'mean' ? num.sum / num.n : how === 'max' ? num.max : how === 'min' ? num.min : how === 'sum' ? num.sum : undefined;
        if (value !== undefined) fields[`${snakeCase(name)}_${how}`] = value;
      }
    }
    for (const [name, n] of acc.trues) fields[`${snakeCase(name)}_count_true`] = n;
    return fields;
  }

  /** Environmental summaries per device and per district, and the person-derived counts for the anonymizer. */
  function summarize(w: WindowState, out: ClosedWindows): void {
    const kind = policy.kinds[w.kind];
    const measurement = measurementOf(w.kind);
    const personCounts = new Map<string, Array<{ deviceId: string; district: string; count: number }>>();
    const districts = new Map<string, DeviceAcc>();
    for (const [deviceId, acc] of [...w.devices].sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const [name, num] of acc.numeric) {
        // Validated by the policy schema: a person-derived reading field is a count (sum).
        if (kind.fields[name]?.class !== 'person-derived') continue;
        const field = `${snakeCase(name)}_sum`;
        let list = personCounts.get(field);
        if (!list) personCounts.set(field, (list = []));
        list.push({ deviceId, district: acc.district, count: num.sum });
      }
      out.records.push({ v: 1, measurement, tags: { scope: 'device', district: acc.district, device: deviceId }, fields: environmentalFields(kind, acc), windowStart: w.start, windowEnd: w.end });
      let d = districts.get(acc.district);
      if (!d) districts.set(acc.district, (d = { district: acc.district, readings: 0, numeric: new Map(), trues: new Map() }));
      mergeInto(d, acc);
    }
    // District figures pool the district's readings (a mean is over all of them, not a mean of device means).
    for (const [district, acc] of [...districts].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out.records.push({ v: 1, measurement, tags: { scope: 'district', district }, fields: environmentalFields(kind, acc), windowStart: w.start, windowEnd: w.end });
    }
    for (const [field, counts] of [...personCounts].sort(([a], [b]) => (a < b ? -1 : 1))) {
      publish(out, anonymizer.deviceCounts({ measurement, field }, counts, w.start, w.end, budgetOf(kind)));
    }
  }

  function publish(out: ClosedWindows, release: { records: AggregateRecord[]; report: ReleaseReport }): void {
    out.records.push(...release.records);
    out.reports.push(release.report);
    const { report } = release;
    const entry = ledger.entries(utcDay(report.windowStart)).find((e) => e.stream === report.stream);
    out.records.push({
      v: 1,
      measurement: 'privacy',
      tags: { stream: report.stream },
      fields: {
        epsilon_spent_today: entry?.spent ?? 0,
        epsilon_budget_today: entry?.budget ?? 0,
        released: report.released,
        suppressed_below_k: report.suppressed.below_k,
        suppressed_differencing: report.suppressed.differencing,
        suppressed_budget: report.suppressed.budget,
      },
      windowStart: report.windowStart,
      windowEnd: report.windowEnd,
    });
  }

  return {
    addReading(record) {
      if (record.ts < clock.now() - policy.rawData.ttl) return 'expired';
      if (isLate(record.kind, record.ts)) return 'late';
      const w = windowFor(record.kind, record.ts);
      const id = `${record.deviceId}:${record.seq}`;
      if (w.seen.has(id)) return 'duplicate';
      w.seen.add(id);
      let acc = w.devices.get(record.deviceId);
      if (!acc) w.devices.set(record.deviceId, (acc = { district: record.district, readings: 0, numeric: new Map(), trues: new Map() }));
      acc.readings++;
      for (const [name, value] of Object.entries(record.values)) {
        if (typeof value === 'number') {
          const num = acc.numeric.get(name);
          if (num) {
            num.sum += value;
            num.n++;
            num.min = Math.min(num.min, value);
            num.max = Math.max(num.max, value);
          } else {
            acc.numeric.set(name, { sum: value, n: 1, min: value, max: value });
          }
        } else if (typeof value === 'boolean') {
          acc.trues.set(name, (acc.trues.get(name) ?? 0) + (value ? 1 : 0));
        }
      }
      return 'accepted';
    },

    addSighting(record) {
      if (record.ts < clock.now() - policy.rawData.ttl) return 'expired';
      // A sighting serves its window and its epoch (dwell times, trips): it is late only once
      // the epoch is closed. Windows already emitted are not emitted again (see add()).
      const kind = policy.kinds[record.kind];
      if (windowStart(record.ts, kind.epoch) + kind.epoch <= closedUpTo) return 'late';
      return people.add(record, kind.window, kind.epoch, closedUpTo);
    },

    closeDue(now = clock.now()) {
      const cutoff = now - graceMs;
      const out: ClosedWindows = { records: [], reports: [] };
      const due = [...windows.entries()].filter(([, w]) => w.end <= cutoff).sort(([, a], [, b]) => a.end - b.end || (a.kind < b.kind ? -1 : 1));
      for (const [id, w] of due) {
        summarize(w, out);
        windows.delete(id);
      }
      const closed = people.closeDue(cutoff);
      for (const f of closed.windows) {
        const budget = budgetOf(policy.kinds[SOURCE_KIND[f.source]]);
        if (f.source === 'wifi') publish(out, anonymizer.pedestrians(f, budget));
        else {
          publish(out, anonymizer.vehicles(f, budget));
          if (f.trips.length > 0) publish(out, anonymizer.travelTimes(f, budget));
        }
      }
      for (const e of closed.epochs) {
        if (e.source === 'wifi') publish(out, anonymizer.dwell(e, budgetOf(policy.kinds.lamppost)));
      }
      closedUpTo = Math.max(closedUpTo, cutoff);
      return out;
    },

    get closedUpTo() {
      return closedUpTo;
    },
    restoreClosedUpTo(ms) {
      closedUpTo = Math.max(closedUpTo, ms);
    },
    heldUntil(kind, ts, sighting) {
      const size = sighting ? policy.kinds[kind].epoch : policy.kinds[kind].window;
      return windowStart(ts, size) + size;
    },
    openWindows: () => windows.size + people.openEpochs(),
    pseudonymsHeld: () => people.pseudonymsHeld(),
  };
}
