// Stage 2 of the processor: collects the partials of each window from every partition of the
// input topics, merges them (merge.ts) and only then turns the window into anonymous
// aggregates — environmental summaries per device and district, and person-derived figures
// through the anonymizer (k-anonymity, differencing protection, noise, the ε ledger). Because
// k and noise see the merged figures, the output is the same with one processor or many.
//
// Rules:
//   - a window is released once every partition has spoken for it: sent its partial, or a later
//     partial whose `coversFrom` says the partition had nothing in that window;
//   - the first partial of a (window, partition) wins; a replayed copy is identical and ignored;
//   - a series releases its windows strictly in window order (the ledger's replay detection
//     relies on it), each window once, so the ledger is charged once per window;
//   - a window that can never be complete (a partition's partials start after it, e.g. they
//     were deleted by retention before this releaser read them) is discarded, never released
//     as a partial, smaller figure.
import type { AggregateRecord, DeviceKind, DevicePartial, WindowPartialRecord } from '@lethe/schemas';
import { createAnonymizer, DWELL_BUCKETS, SPEED_BINS, TRAVEL_BINS, type Release, type ReleaseReport, type StreamBudget } from './anonymizer.ts';
import { utcDay, type BudgetLedger } from './ledger.ts';
import { mergeDevices, mergeDwell, mergeSightings } from './merge.ts';
import type { NoiseSource } from './noise.ts';
import { partialSeries, seriesOf, type PartialInput, type PartialSeries } from './partials.ts';
import type { KindPolicy, Policy } from './policy.ts';
import { snakeCase } from './windows.ts';

export interface ClosedWindows {
  /** Anonymous aggregates, including one `privacy` record per release with the ε spent. */
  records: AggregateRecord[];
  reports: ReleaseReport[];
}

export interface ReleasedWindow {
  series: string;
  windowStart: number;
  windowEnd: number;
  /** Partials merged (one per partition that had data or reported the window). */
  partials: number;
}

export interface Releases extends ClosedWindows {
  windows: ReleasedWindow[];
  /** Windows that could never be complete and were dropped unreleased since the last call. */
  discarded: ReleasedWindow[];
}

export type PartialOutcome = 'accepted' | 'duplicate' | 'replay' | 'invalid';

export interface ReleaserOptions {
  policy: Policy;
  noise: NoiseSource;
  /** The ε ledger; restored from the last committed state by the caller. */
  ledger: BudgetLedger;
  /** Partitions of each input topic (from the topic metadata): a window needs a word from each. */
  partitions: Readonly<Record<PartialInput, number>>;
}

export interface Releaser {
  add(partial: WindowPartialRecord): PartialOutcome;
  /** Releases every complete window, each series in window order. */
  release(): Releases;
  /** Per series, the end of the last window released (or discarded); later partials of windows up to it are replays. */
  releasedUpTo(): Record<string, number>;
  /** After a restart: windows up to these times were released by the previous run. */
  restore(releasedUpTo: Readonly<Record<string, number>>): void;
  /** Partition counts changed (partitions were added to an input topic). */
  setPartitions(partitions: Readonly<Record<PartialInput, number>>): void;
  partitions(): Record<PartialInput, number>;
  /** Windows waiting for partials. */
  pendingWindows(): number;
}

/** Measurement name of a device kind's own readings (traffic-light → traffic_light). */
export function measurementOf(kind: DeviceKind): string {
  return snakeCase(kind.replace('-', '_'));
}

function budgetOf(kind: KindPolicy): StreamBudget {
  return { k: kind.k, epsilonPerRelease: kind.epsilonPerRelease, epsilonPerDay: kind.epsilonPerDay };
}

interface DistrictAcc {
  readings: number;
  numeric: Map<string, { sum: number; n: number; min: number; max: number }>;
  trues: Map<string, number>;
}

interface Pending {
  start: number;
  end: number;
  parts: Map<number, WindowPartialRecord>;
}

interface SeriesState {
  def: PartialSeries;
  done: number;
  pending: Map<number, Pending>;
  /** Per partition, the time up to which it has spoken (contiguously). */
  covered: Map<number, number>;
}

const TYPE_ORDER: Record<WindowPartialRecord['type'], number> = { readings: 0, sightings: 1, dwell: 2 };

export function createReleaser({ policy, noise, ledger, partitions }: ReleaserOptions): Releaser {
  const anonymizer = createAnonymizer({ noise, ledger });
  const counts: Record<PartialInput, number> = { ...partitions };
  const series = new Map<string, SeriesState>(partialSeries(policy).map((def) => [def.id, { def, done: 0, pending: new Map(), covered: new Map() }]));
  let discarded: ReleasedWindow[] = [];

  const covered = (s: SeriesState, partition: number) => s.covered.get(partition) ?? s.done;

  function complete(s: SeriesState, w: Pending): boolean {
    for (let p = 0; p < counts[s.def.input]; p++) if (covered(s, p) < w.end) return false;
    return true;
  }

  /** Drops every pending window ending at or before `floor`: one partition can no longer complete them. */
  function discardUpTo(s: SeriesState, floor: number): void {
    for (const [start, w] of [...s.pending].sort(([a], [b]) => a - b)) {
      if (w.end > floor) break;
      discarded.push({ series: s.def.id, windowStart: w.start, windowEnd: w.end, partials: w.parts.size });
      s.pending.delete(start);
    }
    s.done = Math.max(s.done, floor);
  }

  function validBins(p: WindowPartialRecord): boolean {
    if (p.type === 'sightings') {
      return p.cells.every((c) => c.speedBins === undefined || c.speedBins.length === SPEED_BINS.count) && p.trips.every((t) => t.durationBins.length === TRAVEL_BINS.count);
    }
    if (p.type === 'dwell') return p.cells.every((c) => c.buckets.length === DWELL_BUCKETS.length);
    return true;
  }

  /** Environmental fields of an accumulator, as the policy says to summarize them. */
  function environmentalFields(kind: KindPolicy, acc: { readings: number; numeric: Iterable<[string, { sum: number; n: number; min: number; max: number }]>; trues: Iterable<[string, number]> }): Record<string, number> {
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

  function publish(out: ClosedWindows, release: Release): void {
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

  /** Environmental summaries per device and per district, and the person-derived counts through the anonymizer. */
  function releaseReadings(kindName: DeviceKind, start: number, end: number, devices: readonly DevicePartial[], out: ClosedWindows): void {
    const kind = policy.kinds[kindName];
    const measurement = measurementOf(kindName);
    const personCounts = new Map<string, Array<{ deviceId: string; district: string; count: number }>>();
    const districts = new Map<string, DistrictAcc>();
    for (const device of devices) {
      for (const [name, count] of Object.entries(device.counts)) {
        const field = `${snakeCase(name)}_sum`;
        let list = personCounts.get(field);
        if (!list) personCounts.set(field, (list = []));
        list.push({ deviceId: device.deviceId, district: device.district, count });
      }
      out.records.push({
        v: 1,
        measurement,
        tags: { scope: 'device', district: device.district, device: device.deviceId },
        fields: environmentalFields(kind, { readings: device.readings, numeric: Object.entries(device.numeric), trues: Object.entries(device.trues) }),
        windowStart: start,
        windowEnd: end,
      });
      // District figures pool the district's readings (a mean is over all of them, not a mean of device means).
      let d = districts.get(device.district);
      if (!d) districts.set(device.district, (d = { readings: 0, numeric: new Map(), trues: new Map() }));
      d.readings += device.readings;
      for (const [name, num] of Object.entries(device.numeric)) {
        const acc = d.numeric.get(name);
        if (!acc) d.numeric.set(name, { ...num });
        else {
          acc.sum += num.sum;
          acc.n += num.n;
          acc.min = Math.min(acc.min, num.min);
          acc.max = Math.max(acc.max, num.max);
        }
      }
      for (const [name, n] of Object.entries(device.trues)) d.trues.set(name, (d.trues.get(name) ?? 0) + n);
    }
    for (const [district, acc] of [...districts].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out.records.push({ v: 1, measurement, tags: { scope: 'district', district }, fields: environmentalFields(kind, acc), windowStart: start, windowEnd: end });
    }
    for (const [field, list] of [...personCounts].sort(([a], [b]) => (a < b ? -1 : 1))) {
      publish(out, anonymizer.deviceCounts({ measurement, field }, list, start, end, budgetOf(kind)));
    }
  }

  function releaseWindow(s: SeriesState, w: Pending, out: ClosedWindows): void {
    const parts = [...w.parts.values()];
    const budget = budgetOf(policy.kinds[s.def.kind]);
    if (s.def.type === 'readings') {
      releaseReadings(s.def.kind, w.start, w.end, mergeDevices(parts as Array<WindowPartialRecord & { type: 'readings' }>), out);
    } else if (s.def.type === 'sightings') {
      const merged = { source: s.def.source!, windowStart: w.start, windowEnd: w.end, ...mergeSightings(parts as Array<WindowPartialRecord & { type: 'sightings' }>) };
      if (merged.cells.length === 0 && merged.trips.length === 0) return;
      if (merged.source === 'wifi') publish(out, anonymizer.pedestrians(merged, budget));
      else {
        publish(out, anonymizer.vehicles(merged, budget));
        if (merged.trips.length > 0) publish(out, anonymizer.travelTimes(merged, budget));
      }
    } else {
      const dwell = mergeDwell(parts as Array<WindowPartialRecord & { type: 'dwell' }>);
      if (dwell.length > 0) publish(out, anonymizer.dwell({ source: s.def.source!, epochStart: w.start, epochEnd: w.end, dwell }, budget));
    }
  }

  return {
    add(partial) {
      const s = series.get(seriesOf(partial));
      // A partial of a series this policy does not have, of another window size, or with other bins: another version wrote it.
      if (!s || partial.windowEnd - partial.windowStart !== s.def.size || partial.windowStart % s.def.size !== 0 || !validBins(partial)) return 'invalid';
      if (partial.partition >= counts[s.def.input]) counts[s.def.input] = partial.partition + 1;
      if (partial.windowEnd <= s.done) return 'replay';
      const from = covered(s, partial.partition);
      // The partition's partials start after windows still open here: they cannot be completed.
      if (partial.coversFrom > from) discardUpTo(s, partial.coversFrom);
      if (partial.windowEnd <= s.done) return 'replay';
      let w = s.pending.get(partial.windowStart);
      if (w?.parts.has(partial.partition)) return 'duplicate';
      if (!w) s.pending.set(partial.windowStart, (w = { start: partial.windowStart, end: partial.windowEnd, parts: new Map() }));
      w.parts.set(partial.partition, partial);
      s.covered.set(partial.partition, Math.max(covered(s, partial.partition), partial.windowEnd));
      return 'accepted';
    },

    release() {
      const ready: Array<{ s: SeriesState; w: Pending }> = [];
      for (const s of series.values()) {
        for (const [start, w] of [...s.pending].sort(([a], [b]) => a - b)) {
          // Strictly in window order: a later window waits for an earlier incomplete one.
          if (!complete(s, w)) break;
          ready.push({ s, w });
          s.pending.delete(start);
          s.done = Math.max(s.done, w.end);
        }
      }
      ready.sort((a, b) => TYPE_ORDER[a.s.def.type] - TYPE_ORDER[b.s.def.type] || a.w.end - b.w.end || (a.s.def.id < b.s.def.id ? -1 : 1));
      const out: Releases = { records: [], reports: [], windows: [], discarded };
      discarded = [];
      for (const { s, w } of ready) {
        releaseWindow(s, w, out);
        out.windows.push({ series: s.def.id, windowStart: w.start, windowEnd: w.end, partials: w.parts.size });
      }
      return out;
    },

    releasedUpTo: () => Object.fromEntries([...series].map(([id, s]) => [id, s.done])),
    restore(releasedUpTo) {
      for (const [id, done] of Object.entries(releasedUpTo)) {
        const s = series.get(id);
        if (s && typeof done === 'number' && done > s.done) discardUpTo(s, done);
      }
      // Windows dropped by a restore were released by the previous run: not news.
      discarded = [];
    },
    setPartitions(p) {
      counts.readings = Math.max(counts.readings, p.readings);
      counts.sightings = Math.max(counts.sightings, p.sightings);
    },
    partitions: () => ({ ...counts }),
    pendingWindows: () => [...series.values()].reduce((n, s) => n + s.pending.size, 0),
  };
}
