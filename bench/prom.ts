// Reads the services' own Prometheus metrics: counters summed over their labels, and
// histograms as bucket counts, so a stage can take the difference of two scrapes and estimate
// quantiles over just its own window (linear within a bucket: only as fine as the buckets).
export function counter(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) {
    const l = m[1] ?? '';
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[2]);
  }
  return sum;
}

export interface PromHistogram {
  /** Upper bounds in seconds (the last is +Inf) with cumulative counts. */
  buckets: Array<{ le: number; count: number }>;
  count: number;
  sum: number;
}

export function histogram(text: string, name: string): PromHistogram {
  const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)$`, 'gm'))].map((m) => ({
    le: m[1] === '+Inf' ? Infinity : Number(m[1]),
    count: Number(m[2]),
  }));
  return { buckets, count: counter(text, `${name}_count`), sum: counter(text, `${name}_sum`) };
}

export function histogramDelta(after: PromHistogram, before: PromHistogram): PromHistogram {
  return {
    buckets: after.buckets.map((b, i) => ({ le: b.le, count: b.count - (before.buckets[i]?.count ?? 0) })),
    count: after.count - before.count,
    sum: after.sum - before.sum,
  };
}

/** The q-quantile in seconds, interpolated linearly inside its bucket; Infinity if it falls in +Inf. */
export function histogramQuantile(h: PromHistogram, q: number): number {
  if (h.count <= 0) return NaN;
  const rank = q * h.count;
  let lower = 0;
  let below = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return Infinity;
      const inBucket = b.count - below;
      return inBucket <= 0 ? b.le : lower + ((b.le - lower) * (rank - below)) / inBucket;
    }
    lower = b.le;
    below = b.count;
  }
  return Infinity;
}
