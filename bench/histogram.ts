// A latency histogram with log-spaced buckets (1 % wide), so millions of samples cost a few
// kilobytes and any quantile is within 1 % of the exact value. Plain data, so it crosses the
// IPC channel of the bench's child processes as JSON and merges across them.
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** Values are microseconds; 1 µs … ~17 min fit in the buckets, anything larger lands in the last. */
const BUCKETS = Math.ceil(Math.log(1e9) / LOG_GROWTH) + 1;

export interface HistogramData {
  counts: Record<number, number>;
  n: number;
  min: number;
  max: number;
  sum: number;
}

export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  n = 0;
  min = Infinity;
  max = -Infinity;
  sum = 0;

  /** Records one value in microseconds (negatives, from clocks a few µs apart, count as 0). */
  record(us: number): void {
    const v = us < 1 ? 1 : us;
    const i = Math.min(BUCKETS - 1, Math.floor(Math.log(v) / LOG_GROWTH));
    this.counts[i]! += 1;
    this.n++;
    this.sum += us;
    if (us < this.min) this.min = us;
    if (us > this.max) this.max = us;
  }

  /** The q-quantile (0…1) in microseconds; NaN when empty. */
  quantile(q: number): number {
    if (this.n === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      // The bucket's geometric middle, clamped to what was actually seen.
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, GROWTH ** (i + 0.5)));
    }
    return this.max;
  }

  mean(): number {
    return this.n === 0 ? NaN : this.sum / this.n;
  }

  merge(other: Histogram | HistogramData): this {
    const data = other instanceof Histogram ? other.toJSON() : other;
    for (const [i, c] of Object.entries(data.counts)) this.counts[Number(i)]! += c;
    this.n += data.n;
    this.sum += data.sum;
    if (data.n > 0) {
      this.min = Math.min(this.min, data.min);
      this.max = Math.max(this.max, data.max);
    }
    return this;
  }

  toJSON(): HistogramData {
    const counts: Record<number, number> = {};
    this.counts.forEach((c, i) => {
      if (c > 0) counts[i] = c;
    });
    return { counts, n: this.n, min: this.min, max: this.max, sum: this.sum };
  }

  static from(data: HistogramData): Histogram {
    return new Histogram().merge(data);
  }

  /** p50/p99/max in milliseconds, for the report. */
  summaryMs(): { n: number; p50: number; p99: number; max: number; mean: number } {
    const ms = (us: number) => Math.round(us / 10) / 100;
    return { n: this.n, p50: ms(this.quantile(0.5)), p99: ms(this.quantile(0.99)), max: ms(this.max), mean: ms(this.mean()) };
  }
}

/** Wall-clock time in microseconds with sub-millisecond resolution (same clock in every process of this machine). */
export function nowUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}
