// Turns the true person-derived figures of one window into what may be released:
//   1. k-anonymity: a count of fewer than k people (true value) is suppressed, and so is
//      anything derived from those people (their speeds, their travel times);
//   2. differencing: a district total is released only if the people it adds beyond the
//      released cells (the suppressed cells' sum) are at least k, so "district minus cells"
//      never exposes a small group, and whether it is released does not tell 0 people in the
//      suppressed cells from 1; windows of a stream are disjoint and never re-aggregated, so
//      "hour minus minutes" has nothing to subtract;
//   3. differential privacy: every released count gets discrete Laplace noise for its share
//      of the stream's ε per release; statistics (mean, percentiles) are computed from noisy
//      histograms, i.e. post-processing, which costs no extra ε;
//   4. the ledger: each release is paid for from the stream's daily budget; when the budget
//      is spent the stream releases nothing until the next UTC day.
// Sensitivity is 1 for every count: person-windows.ts bounds each person to one cell, one
// speed, one trip per window and one dwell time per epoch.
//
// Its input is already additive (counts and histograms, no per-person value): the merge of the
// partials of every input partition (merge.ts), so k, differencing and noise are applied once,
// after the final merge, and give the same figures with one processor or many.
import type { AggregateRecord, CellPartial, DwellPartial, SightingSource, TripPartial } from '@lethe/schemas';
import { DWELL_BUCKETS, histogram, histogramStats, SPEED_BINS, TRAVEL_BINS } from './bins.ts';
import type { BudgetLedger } from './ledger.ts';
import { discreteLaplace, type NoiseSource } from './noise.ts';

/**
 * A person-derived stream, with its own line in the budget ledger: pedestrians, vehicles,
 * travel_times, dwell, and person-derived or presence-dependent fields of readings, named
 * `<measurement>.<field>` (e.g. a loop's vehicle count) or `<measurement>.presence`.
 */
export type PersonStream = string;

export type SuppressionReason = 'below_k' | 'differencing' | 'budget';

export interface StreamBudget {
  k: number;
  epsilonPerRelease: number;
  epsilonPerDay: number;
}

/** What happened to one stream's window, for metrics and the privacy measurement. */
export interface ReleaseReport {
  stream: PersonStream;
  windowStart: number;
  windowEnd: number;
  outcome: 'granted' | 'replay' | 'exhausted';
  /** ε the stream spent that day through this window (the same in a replay as in the original). */
  spentThrough: number;
  released: number;
  suppressed: Record<SuppressionReason, number>;
}

export interface Release {
  records: AggregateRecord[];
  report: ReleaseReport;
}

/** A presence-dependent reading field (policy class `presence-dependent`), as the policy declares it. */
export interface PresenceField {
  /** The reading field, e.g. `dimmingPct`. */
  name: string;
  /** The published field, e.g. `dimming_pct_mean`. */
  field: string;
  /** The most one person changes one reading: the sensitivity of a mean of readings. */
  perPerson: number;
  /** Readings were clamped to it; the noisy mean is too. */
  range: readonly [number, number];
}

/** One district's readings of one window: per presence-dependent field, the sum and count of its clamped readings. */
export interface DistrictSums {
  district: string;
  sums: Readonly<Record<string, { sum: number; n: number }>>;
}

/**
 * The grid a noisy mean is drawn on, in steps of perPerson / MEAN_STEPS: fine enough that the
 * rounding is small beside the noise, and an integer grid for the discrete Laplace mechanism.
 * Rounding the true mean to it moves a mean by at most one step more, so the sensitivity on the
 * grid is MEAN_STEPS + 1 steps.
 */
const MEAN_STEPS = 10;

/** The person-derived figures of one window of a sighting source, merged over every partition. */
export interface WindowCounts {
  source: SightingSource;
  windowStart: number;
  windowEnd: number;
  /** Distinct people per cell (and, for vehicles, the histogram of their speeds in SPEED_BINS), by device id. */
  cells: readonly CellPartial[];
  /** Trips per pair of junctions as a histogram of travel times in TRAVEL_BINS, by `from>to`. */
  trips: readonly TripPartial[];
}

/** People per dwell-time bucket (DWELL_BUCKETS) and cell over one pseudonym epoch, merged over every partition. */
export interface EpochCounts {
  source: SightingSource;
  epochStart: number;
  epochEnd: number;
  dwell: readonly DwellPartial[];
}

export interface Anonymizer {
  pedestrians(figures: WindowCounts, budget: StreamBudget): Release;
  vehicles(figures: WindowCounts, budget: StreamBudget): Release;
  travelTimes(figures: WindowCounts, budget: StreamBudget): Release;
  dwell(figures: EpochCounts, budget: StreamBudget): Release;
  /**
   * Presence-dependent measurements (adaptive lighting, queues): per district, the mean of its
   * readings with noise calibrated to what one person can change, clamped to the field's range.
   * Never per device: a device's own figure would be the same measurement with less to hide in.
   */
  presenceMeans(
    measurement: string,
    fields: readonly PresenceField[],
    districts: readonly DistrictSums[],
    windowStart: number,
    windowEnd: number,
    budget: StreamBudget,
  ): Release;
  /** A person-derived count a device reports (a loop's vehicles: one vehicle crosses a loop once per window). */
  deviceCounts(
    target: { measurement: string; field: string },
    counts: ReadonlyArray<{ deviceId: string; district: string; count: number }>,
    windowStart: number,
    windowEnd: number,
    budget: StreamBudget,
  ): Release;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** The identity of one released figure: its noise is drawn from the stream of this id. */
export function figureId(stream: PersonStream, windowStart: number, measurement: string, tags: Record<string, string>, field: string): string {
  return `${stream}|${windowStart}|${measurement}|${Object.entries(tags)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}|${field}`;
}

/** A count with its deterministic noise; negative results are clamped to 0 (post-processing). */
export function noisyCount(noise: NoiseSource, id: string, value: number, epsilon: number): number {
  return Math.max(0, value + discreteLaplace(noise.stream(id), epsilon, 1));
}

export function createAnonymizer({ noise, ledger }: { noise: NoiseSource; ledger: BudgetLedger }): Anonymizer {
  /** One window of one stream: collects released fields per series and counts suppressions. */
  function begin(stream: PersonStream, windowStart: number, windowEnd: number, budget: StreamBudget) {
    const { outcome, spentThrough } = ledger.charge(stream, { start: windowStart, end: windowEnd }, budget.epsilonPerRelease, budget.epsilonPerDay);
    const series = new Map<string, AggregateRecord>();
    const report: ReleaseReport = {
      stream,
      windowStart,
      windowEnd,
      outcome,
      spentThrough,
      released: 0,
      suppressed: { below_k: 0, differencing: 0, budget: 0 },
    };
    const open = outcome !== 'exhausted';
    const seriesKey = (measurement: string, tags: Record<string, string>) => figureId(stream, windowStart, measurement, tags, '');

    return {
      open,
      /** Noisy count for a share of ε; negative noise results are clamped to 0 (post-processing). */
      noisy(measurement: string, tags: Record<string, string>, field: string, value: number, share: number): number {
        return noisyCount(noise, figureId(stream, windowStart, measurement, tags, field), value, budget.epsilonPerRelease * share);
      },
      /** A value on an integer grid with discrete Laplace noise of the given sensitivity (in grid steps). */
      noisySteps(measurement: string, tags: Record<string, string>, field: string, steps: number, sensitivity: number, share: number): number {
        return steps + discreteLaplace(noise.stream(figureId(stream, windowStart, measurement, tags, field)), budget.epsilonPerRelease * share, sensitivity);
      },
      suppress(reason: SuppressionReason, n = 1) {
        report.suppressed[open ? reason : 'budget'] += n;
      },
      set(measurement: string, tags: Record<string, string>, field: string, value: number) {
        const key = seriesKey(measurement, tags);
        let record = series.get(key);
        if (!record) series.set(key, (record = { v: 1, measurement, tags, fields: {}, windowStart, windowEnd }));
        record.fields[field] = value;
        report.released++;
      },
      finish(): Release {
        return { records: [...series.values()], report };
      },
    };
  }

  /** Cells and district totals of distinct people, with the k and differencing rules. */
  function peopleCounts(
    release: ReturnType<typeof begin>,
    measurement: string,
    cells: readonly CellPartial[],
    k: number,
    share: number,
    onCell?: (cell: CellPartial, tags: Record<string, string>) => void,
  ) {
    const districts = new Map<string, { total: number; suppressed: number }>();
    for (const cell of cells) {
      let d = districts.get(cell.district);
      if (!d) districts.set(cell.district, (d = { total: 0, suppressed: 0 }));
      d.total += cell.people;
      if (!release.open) {
        release.suppress('budget');
        continue;
      }
      if (cell.people < k) {
        d.suppressed += cell.people;
        release.suppress('below_k');
        continue;
      }
      const tags = { scope: 'cell', district: cell.district, device: cell.deviceId };
      release.set(measurement, tags, 'people', release.noisy(measurement, tags, 'people', cell.people, share));
      onCell?.(cell, tags);
    }
    for (const [district, d] of [...districts].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!release.open) release.suppress('budget');
      else if (d.total < k) release.suppress('below_k');
      // Released only when the people it adds beyond the released cells are at least k. Not
      // also when they are 0: then "district released" would tell "nobody in any suppressed
      // cell" from "someone there" — one person's presence (P9). A district whose every person
      // is in a released cell has nothing to add: its total is the sum of those cells.
      else if (d.suppressed < k) release.suppress('differencing');
      else {
        const tags = { scope: 'district', district };
        release.set(measurement, tags, 'people', release.noisy(measurement, tags, 'people', d.total, share));
      }
    }
  }

  function noisyHistogram(
    release: ReturnType<typeof begin>,
    measurement: string,
    tags: Record<string, string>,
    field: string,
    bins: readonly number[],
    share: number,
  ): number[] {
    // One person adds 1 to one bin: the whole histogram has sensitivity 1.
    return bins.map((n, i) => release.noisy(measurement, tags, `${field}[${i}]`, n, share));
  }

  return {
    pedestrians(f, budget) {
      const release = begin('pedestrians', f.windowStart, f.windowEnd, budget);
      peopleCounts(release, 'pedestrians', f.cells, budget.k, 1 / 2);
      return release.finish();
    },

    vehicles(f, budget) {
      const release = begin('vehicles', f.windowStart, f.windowEnd, budget);
      peopleCounts(release, 'vehicles', f.cells, budget.k, 1 / 3, (cell, tags) => {
        // A cell whose people gave no speed still gets its (all-zero) histogram noised.
        const bins = noisyHistogram(release, 'vehicles', tags, 'speed', cell.speedBins ?? histogram([], SPEED_BINS), 1 / 3);
        const stats = histogramStats(bins, SPEED_BINS.width, 0.85);
        if (stats) {
          release.set('vehicles', tags, 'speed_mean_kmh', stats.mean);
          release.set('vehicles', tags, 'speed_p85_kmh', stats.percentile);
        }
      });
      return release.finish();
    },

    travelTimes(f, budget) {
      const release = begin('travel_times', f.windowStart, f.windowEnd, budget);
      for (const trip of f.trips) {
        const trips = sum(trip.durationBins);
        if (!release.open) release.suppress('budget');
        else if (trips < budget.k) release.suppress('below_k');
        else {
          const tags = { from: trip.from, from_district: trip.fromDistrict, to: trip.to, to_district: trip.toDistrict };
          release.set('travel_times', tags, 'trips', release.noisy('travel_times', tags, 'trips', trips, 1 / 2));
          const stats = histogramStats(noisyHistogram(release, 'travel_times', tags, 'duration', trip.durationBins, 1 / 2), TRAVEL_BINS.width, 0.5);
          if (stats) release.set('travel_times', tags, 'median_s', stats.percentile);
        }
      }
      return release.finish();
    },

    dwell(f, budget) {
      const release = begin('dwell', f.epochStart, f.epochEnd, budget);
      for (const cell of f.dwell) {
        const tags = { scope: 'cell', district: cell.district, device: cell.deviceId };
        // Each bucket is its own count of people; the cell total is not released, so buckets
        // cannot be differenced against it.
        for (let b = 0; b < DWELL_BUCKETS.length; b++) {
          const n = cell.buckets[b] ?? 0;
          if (n === 0) continue;
          if (!release.open) release.suppress('budget');
          else if (n < budget.k) release.suppress('below_k');
          else release.set('dwell', tags, DWELL_BUCKETS[b]!.field, release.noisy('dwell', tags, DWELL_BUCKETS[b]!.field, n, 1));
        }
      }
      return release.finish();
    },

    presenceMeans(measurement, fields, districts, windowStart, windowEnd, budget) {
      const release = begin(`${measurement}.presence`, windowStart, windowEnd, budget);
      // One person can move every presence-dependent field of the districts they are in: the
      // stream's ε is shared between the fields (districts are disjoint, docs/privacy.md).
      const share = 1 / Math.max(1, fields.length);
      for (const d of districts) {
        const tags = { scope: 'district', district: d.district };
        for (const f of fields) {
          const acc = d.sums[f.name];
          // A field no device of the district reported: no figure (it depends on devices, not on people).
          if (!acc || acc.n === 0) continue;
          if (!release.open) {
            release.suppress('budget');
            continue;
          }
          const step = f.perPerson / MEAN_STEPS;
          const steps = release.noisySteps(measurement, tags, f.field, Math.round(acc.sum / acc.n / step), MEAN_STEPS + 1, share);
          // Clamping to the range is post-processing; the rounding keeps float dust out of the figure.
          release.set(measurement, tags, f.field, Math.min(f.range[1], Math.max(f.range[0], Number((steps * step).toPrecision(12)))));
        }
      }
      return release.finish();
    },

    deviceCounts({ measurement, field }, counts, windowStart, windowEnd, budget) {
      const release = begin(`${measurement}.${field}`, windowStart, windowEnd, budget);
      for (const c of counts) {
        // The same series as the device's environmental point, so InfluxDB merges the fields.
        const tags = { scope: 'device', district: c.district, device: c.deviceId };
        if (!release.open) release.suppress('budget');
        else if (c.count < budget.k) release.suppress('below_k');
        else release.set(measurement, tags, field, release.noisy(measurement, tags, field, c.count, 1));
      }
      return release.finish();
    },
  };
}
