import { describe, expect, it } from 'vitest';
import { followCount, sustainedRate } from '../replay-count.ts';

describe("stages 5 and 6's replay count", () => {
  it('reads the sustained rate between 10 % and 90 % of the total, leaving out a slow start and end', () => {
    // 1,000 records: nothing for 2 s (the group join), then 100 per second, then a slow tail.
    const samples = [
      { us: 0, count: 0 },
      { us: 2e6, count: 0 },
      { us: 3e6, count: 100 },
      { us: 11e6, count: 900 },
      { us: 20e6, count: 1000 },
    ];
    expect(sustainedRate(samples, 1000)).toBe(100);
  });

  it('samples the count until done, telling progress and the last metrics', async () => {
    let n = 0;
    const lines: string[] = [];
    const { samples, metrics } = await followCount({
      metrics: async () => `count ${(n += 40)}`,
      count: (m) => Number(m.split(' ')[1]),
      done: (count) => count >= 100,
      describe: (count) => `${count} of 100`,
      progress: (line) => lines.push(line),
    });
    expect(samples.map((s) => s.count)).toEqual([40, 80, 120]);
    expect(metrics).toBe('count 120');
    expect(lines).toEqual([]); // under 5 s: no progress line yet
  });
});
