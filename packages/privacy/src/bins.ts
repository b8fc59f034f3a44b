// The bins the figures about people are counted in: speeds, travel times and dwell times. Stage 1
// (partials.ts) counts into them per window and partition, and the anonymizer releases them with
// noise, so both read them from here.

/** Histogram bins: speeds in 10 km/h steps to 150 km/h, travel times in 30 s steps to 15 min. */
export const SPEED_BINS = { width: 10, count: 15 } as const;
export const TRAVEL_BINS = { width: 30, count: 30 } as const;
/** Dwell-time buckets (seconds, lower bound inclusive) and their field names. */
export const DWELL_BUCKETS = [
  { field: 'people_dwell_lt_1m', from: 0 },
  { field: 'people_dwell_1m_5m', from: 60 },
  { field: 'people_dwell_5m_10m', from: 300 },
  { field: 'people_dwell_ge_10m', from: 600 },
] as const;

/** Counts of values per bin; values beyond the last bin count in it. */
export function histogram(values: readonly number[], { width, count }: { readonly width: number; readonly count: number }): number[] {
  const bins = Array.from({ length: count }, () => 0);
  for (const v of values) bins[Math.min(count - 1, Math.max(0, Math.floor(v / width)))]!++;
  return bins;
}

/** Counts of dwell times (seconds) per DWELL_BUCKETS bucket. */
export function dwellBuckets(dwells: readonly number[]): number[] {
  return DWELL_BUCKETS.map((bucket, b) => {
    const to = DWELL_BUCKETS[b + 1]?.from ?? Infinity;
    return dwells.filter((d) => d >= bucket.from && d < to).length;
  });
}

/** Mean and a percentile from histogram bins (bin midpoints; the percentile is a bin's upper edge). */
export function histogramStats(bins: readonly number[], width: number, p: number): { total: number; mean: number; percentile: number } | undefined {
  const total = bins.reduce((a, b) => a + b, 0);
  if (total <= 0) return undefined;
  const mean = bins.reduce((sum, n, i) => sum + n * (i + 0.5) * width, 0) / total;
  let cumulative = 0;
  let index = bins.length - 1;
  for (let i = 0; i < bins.length; i++) {
    cumulative += bins[i]!;
    if (cumulative >= p * total) {
      index = i;
      break;
    }
  }
  return { total, mean, percentile: (index + 1) * width };
}
