// Reading the services' own Prometheus metrics (the text exposition of /metrics), for the
// tests, the fault suite and the bench: samples by name and exact label values, counters summed
// over their labels, and histograms as bucket counts, so a bench stage can take the difference
// of two scrapes and estimate quantiles over just its own window (linear within a bucket: only
// as fine as the buckets).

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/;

/** Every sample of the metric `name` (a histogram's series are `<name>_bucket`, `_sum`, `_count`). */
export function samples(text: string, name: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (!m || m[1] !== name) continue;
    out.push({ labels: Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!])), value: Number(m[3]) });
  }
  return out;
}

/** The sum of the samples of `name` whose labels include `labels` (exact values). */
export function counter(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of samples(text, name)) if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  return sum;
}

/** A service's /metrics text. */
export async function scrape(baseUrl: string): Promise<string> {
  const res = await fetch(new URL('/metrics', baseUrl), { signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`${baseUrl}/metrics: ${res.status}`);
  return res.text();
}

export interface PromHistogram {
  /** Upper bounds in seconds (the last is +Inf) with cumulative counts. */
  buckets: Array<{ le: number; count: number }>;
  count: number;
  sum: number;
}

export function histogram(text: string, name: string): PromHistogram {
  const buckets = samples(text, `${name}_bucket`).map((b) => ({ le: b.labels.le === '+Inf' ? Infinity : Number(b.labels.le), count: b.value }));
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
