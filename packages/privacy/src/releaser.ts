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
//     as a partial, smaller figure;
//   - the shape of a release does not depend on the data (guarantee P9): every window of every
//     person-derived stream is released and charged, with its `privacy` record, whether or not
//     anyone was seen in it, and the `privacy` record holds only what the schedule and the
//     released figures already say (ε spent, figures released), never how many were suppressed
//     (a suppressed cell is a small group of people: one car on a quiet street).
import type { AggregateRecord, DeviceKind, DevicePartial, WindowPartialRecord } from '@lethe/schemas';
import { createAnonymizer, type DistrictSums, type PresenceField, type Release, type ReleaseReport, type StreamBudget } from './anonymizer.ts';
import { DWELL_BUCKETS, SPEED_BINS, TRAVEL_BINS } from './bins.ts';
import type { BudgetLedger } from './ledger.ts';
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
  /** The series of each record, in the same order (a releaser that lost some windows' claims sends only its own). */
  recordSeries: string[];
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

/** The kind's kept presence-dependent fields, as the anonymizer needs them. */
export function presenceFields(kind: KindPolicy): PresenceField[] {
  return Object.entries(kind.fields)
    .filter(([name, f]) => !name.includes('.') && f.class === 'presence-dependent' && f.treatment === 'keep')
    .map(([name, f]) => ({ name, field: `${snakeCase(name)}_mean`, perPerson: f.perPerson!, range: f.range! }));
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
      return (
        p.cells.every((c) => c.speedBins === undefined || c.speedBins.length === SPEED_BINS.count) &&
        p.trips.every((t) => t.durationBins.length === TRAVEL_BINS.count)
      );
    }
    if (p.type === 'dwell') return p.cells.every((c) => c.buckets.length === DWELL_BUCKETS.length);
    return true;
  }

  /** Environmental fields of an accumulator, as the policy says to summarize them. */
  function environmentalFields(
    kind: KindPolicy,
    acc: { readings: number; numeric: Iterable<[string, { sum: number; n: number; min: number; max: number }]>; trues: Iterable<[string, number]> },
  ): Record<string, number> {
    const fields: Record<string, number> = { readings: acc.readings };
    for (const [name, num] of acc.numeric) {
      const rule = kind.fields[name];
      // About people: released only through the anonymizer.
      if (rule?.class === 'person-derived' || rule?.class === 'presence-dependent') continue;
      for (const how of rule?.aggregate ?? ['mean', 'max']) {
        const value = how === 'mean' ? num.sum / num.n : how === 'max' ? num.max : how === 'min' ? num.min : how === 'sum' ? num.sum : undefined;
        if (value !== undefined) fields[`${snakeCase(name)}_${how}`] = value;
      }
    }
    for (const [name, n] of acc.trues) fields[`${snakeCase(name)}_count_true`] = n;
    return fields;
  }

  function publish(out: ClosedWindows, release: Release, budget: StreamBudget): void {
    out.records.push(...release.records);
    out.reports.push(release.report);
    const { report } = release;
    out.records.push({
      v: 1,
      measurement: 'privacy',
      tags: { stream: report.stream },
      // Only what the schedule and the released figures say: `released` counts the fields of
      // this release's records, which anyone can count; suppressions are not published (P9).
      fields: {
        epsilon_spent_today: report.spentThrough,
        epsilon_budget_today: budget.epsilonPerDay,
        epsilon_this_release: report.outcome === 'exhausted' ? 0 : budget.epsilonPerRelease,
        released: report.released,
      },
      windowStart: report.windowStart,
      windowEnd: report.windowEnd,
    });
  }

  /** Environmental summaries per device and per district, and the person-derived counts through the anonymizer. */
  function releaseReadings(kindName: DeviceKind, start: number, end: number, devices: readonly DevicePartial[], out: ClosedWindows): void {
    const kind = policy.kinds[kindName];
    const measurement = measurementOf(kindName);
    const budget = budgetOf(kind);
    // Streams come from the policy, not from the data: each is released every window.
    const countFields = Object.entries(kind.fields)
      .filter(([name, f]) => !name.includes('.') && f.class === 'person-derived' && f.treatment === 'keep')
      .map(([name]) => name);
    const presence = presenceFields(kind);
    const personCounts = new Map<string, Array<{ deviceId: string; district: string; count: number }>>(countFields.map((name) => [name, []]));
    const districts = new Map<string, DistrictAcc>();
    for (const device of devices) {
      for (const [name, list] of personCounts) list.push({ deviceId: device.deviceId, district: device.district, count: device.counts[name] ?? 0 });
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
    const sorted = [...districts].sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [district, acc] of sorted) {
      out.records.push({
        v: 1,
        measurement,
        tags: { scope: 'district', district },
        fields: environmentalFields(kind, acc),
        windowStart: start,
        windowEnd: end,
      });
    }
    for (const [name, list] of [...personCounts].map(([name, list]) => [`${snakeCase(name)}_sum`, list] as const).sort(([a], [b]) => (a < b ? -1 : 1))) {
      publish(out, anonymizer.deviceCounts({ measurement, field: name }, list, start, end, budget), budget);
    }
    if (presence.length > 0) {
      const sums: DistrictSums[] = sorted.map(([district, acc]) => ({
        district,
        sums: Object.fromEntries(presence.map((f) => [f.name, acc.numeric.get(f.name) ?? { sum: 0, n: 0 }])),
      }));
      publish(out, anonymizer.presenceMeans(measurement, presence, sums, start, end, budget), budget);
    }
  }

  function releaseWindow(s: SeriesState, w: Pending, out: ClosedWindows): void {
    const parts = [...w.parts.values()];
    const budget = budgetOf(policy.kinds[s.def.kind]);
    if (s.def.type === 'readings') {
      releaseReadings(s.def.kind, w.start, w.end, mergeDevices(parts as Array<WindowPartialRecord & { type: 'readings' }>), out);
    } else if (s.def.type === 'sightings') {
      // Released (and charged) even when nobody was seen: an empty window looks like any other.
      const merged = {
        source: s.def.source!,
        windowStart: w.start,
        windowEnd: w.end,
        ...mergeSightings(parts as Array<WindowPartialRecord & { type: 'sightings' }>),
      };
      if (merged.source === 'wifi') publish(out, anonymizer.pedestrians(merged, budget), budget);
      else {
        publish(out, anonymizer.vehicles(merged, budget), budget);
        publish(out, anonymizer.travelTimes(merged, budget), budget);
      }
    } else {
      const dwell = mergeDwell(parts as Array<WindowPartialRecord & { type: 'dwell' }>);
      publish(out, anonymizer.dwell({ source: s.def.source!, epochStart: w.start, epochEnd: w.end, dwell }, budget), budget);
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
        // Every window from the last one released on, strictly in window order: a later window
        // waits for an earlier incomplete one. A window no partition had anything in (spanned by
        // a partial's `coversFrom`, e.g. while the processor catches up) is released too, empty:
        // whether a window is released must not say whether anyone was there (P9). Before the
        // first release there is no "last one": the series starts at its first partial.
        let start = s.done > 0 ? s.done : Math.min(...s.pending.keys());
        while (Number.isFinite(start)) {
          const w = s.pending.get(start) ?? (s.done > 0 ? { start, end: start + s.def.size, parts: new Map() } : undefined);
          if (!w || !complete(s, w)) break;
          ready.push({ s, w });
          s.pending.delete(start);
          s.done = Math.max(s.done, w.end);
          start = w.end;
        }
      }
      ready.sort((a, b) => TYPE_ORDER[a.s.def.type] - TYPE_ORDER[b.s.def.type] || a.w.end - b.w.end || (a.s.def.id < b.s.def.id ? -1 : 1));
      const out: Releases = { records: [], recordSeries: [], reports: [], windows: [], discarded };
      discarded = [];
      for (const { s, w } of ready) {
        releaseWindow(s, w, out);
        while (out.recordSeries.length < out.records.length) out.recordSeries.push(s.def.id);
        out.windows.push({ series: s.def.id, windowStart: w.start, windowEnd: w.end, partials: w.parts.size });
      }
      return out;
    },

    releasedUpTo: () => Object.fromEntries([...series].map(([id, s]) => [id, s.done])),
    restore(releasedUpTo) {
      for (const [id, done] of Object.entries(releasedUpTo)) {
        const s = series.get(id);
        // Onto this policy's grid: a run under another window length released up to a time that
        // is not on it, and windows from there would never meet a partial (they would all be
        // released empty). The windows the new grid overlaps with the old releases are skipped.
        if (s && typeof done === 'number' && done > s.done) discardUpTo(s, Math.ceil(done / s.def.size) * s.def.size);
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
