import { describe, expect, it } from 'vitest';
import { rssTargetMet, rssTrends, slope, type RssSpan } from '../rss-trend.ts';

// A gateway that climbs during 5 minutes of high-rate steps, then holds steady through a soak.
const samples = Array.from({ length: 451 }, (_, i) => {
  const t = i * 2;
  const climb = Math.min(t, 300) * 0.2; // +12 MiB/min until t = 300 s, then flat
  return { t, rss: { gateway: 130 + climb + (i % 2 ? 0.5 : -0.5), writer: 120 } };
});
const soak: RssSpan = { what: 'soak', from: 300, to: 900 };

describe('RSS trends over the soak', () => {
  it('fits a least-squares slope', () => {
    expect(
      slope([
        [0, 1],
        [1, 3],
        [2, 5],
      ]),
    ).toBeCloseTo(2);
    expect(slope([[5, 1]])).toBe(0);
  });

  it('takes the slope over the soak alone, first/last/peak over the whole stage', () => {
    const [gw] = rssTrends(samples, soak);
    expect(gw).toMatchObject({ name: 'gateway', firstMb: 129.5, peakMb: 190.5 });
    expect(Math.abs(gw!.slopeMbPerMin)).toBeLessThan(0.1);
    expect(gw!.spanFirstMb).toBe(189.5);
    // Over the whole stage the climb before the soak would count as growth.
    const [all] = rssTrends(samples, { what: 'second half', from: 0, to: 900 });
    expect(all!.slopeMbPerMin).toBeGreaterThan(3);
  });

  it('is met only over a soak of 10 minutes, under 300 MB and within ±1 MiB/min', () => {
    const trends = rssTrends(samples, soak);
    expect(rssTargetMet(trends, soak)).toBe(true);
    expect(rssTargetMet(trends, { ...soak, to: 899 })).toBeUndefined();
    expect(rssTargetMet(trends, { what: 'second half', from: 0, to: 900 })).toBeUndefined();
    const growing = samples.map((s) => ({ t: s.t, rss: { gateway: 100 + s.t / 30 } })); // +2 MiB/min
    expect(rssTargetMet(rssTrends(growing, soak), soak)).toBe(false);
    const big = samples.map((s) => ({ t: s.t, rss: { gateway: s.t < 100 ? 310 : 200 } }));
    expect(rssTargetMet(rssTrends(big, soak), soak)).toBe(false);
  });
});
