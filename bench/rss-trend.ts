// Whether a process's memory is flat: the issue asks for RSS "flat over a 10-minute soak", so
// the slope is taken over the soak step alone, at its one rate. Over the whole stage it would
// also measure the climb from the high-rate steps before it (V8 and the C allocator keep what a
// backlog made them reserve), which is not growth under steady load.
import type { RssSample } from './proc.ts';

export interface RssTrend {
  name: string;
  /** Over the whole stage. */
  firstMb: number;
  lastMb: number;
  peakMb: number;
  /** Over the slope's span (the soak, or without one the stage's second half). */
  spanFirstMb: number;
  spanLastMb: number;
  /** Least-squares slope over the span, MiB per minute. */
  slopeMbPerMin: number;
}

/** The samples' span the slope is taken over, in seconds of the sampler's clock. */
export interface RssSpan {
  what: 'soak' | 'second half';
  from: number;
  to: number;
}

/** A soak measures the "flat" if it is this long or longer. */
export const SOAK_TARGET_SECONDS = 600;
/** Flat: at most this many MiB per minute up or down (10 MiB over the 10 minutes). */
export const FLAT_MB_PER_MIN = 1;

export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

/** One trend per process seen in the samples; the slope over `span`. */
export function rssTrends(samples: readonly RssSample[], span: RssSpan): RssTrend[] {
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.rss)))];
  return names.map((name) => {
    const own = samples.filter((s) => s.rss[name] !== undefined).map((s): [number, number] => [s.t, s.rss[name]!]);
    const inSpan = own.filter(([t]) => t >= span.from && t <= span.to);
    return {
      name,
      firstMb: own[0]?.[1] ?? NaN,
      lastMb: own.at(-1)?.[1] ?? NaN,
      peakMb: Math.max(...own.map(([, y]) => y)),
      spanFirstMb: inSpan[0]?.[1] ?? NaN,
      spanLastMb: inSpan.at(-1)?.[1] ?? NaN,
      slopeMbPerMin: round2(slope(inSpan) * 60),
    };
  });
}

/**
 * The memory target for the services: under 300 MB throughout, and flat over a soak of
 * at least 10 minutes. Undefined (not measured) when there was no such soak.
 */
export function rssTargetMet(services: readonly RssTrend[], span: RssSpan): boolean | undefined {
  if (span.what !== 'soak' || span.to - span.from < SOAK_TARGET_SECONDS) return undefined;
  return services.every((t) => t.peakMb < 300 && Math.abs(t.slopeMbPerMin) <= FLAT_MB_PER_MIN);
}
