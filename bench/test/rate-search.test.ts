import { describe, expect, it } from 'vitest';
import { bounds, nextRate, nextRepeatRate, type RepeatOptions, type SearchOptions, type Trial } from '../rate-search.ts';

const options: SearchOptions = { start: 1000, growth: 1.5, precision: 0.1, maxTrials: 10, floor: 100 };

/** Runs the search against a pipeline that sustains every rate up to `capacity`. */
function search(capacity: number, o = options, noisy = new Set<number>()): Trial[] {
  const trials: Trial[] = [];
  for (let rate = nextRate(trials, o); rate !== undefined; rate = nextRate(trials, o)) {
    trials.push({ rate, sustained: rate <= capacity && !noisy.has(trials.length) });
  }
  return trials;
}

describe('the search for the maximum sustainable rate', () => {
  it('grows past the start, then closes in on the capacity within the precision', () => {
    const trials = search(4200);
    expect(trials.slice(0, 4).map((t) => t.rate)).toEqual([1000, 1500, 2250, 3375]);
    const { lo, hi } = bounds(trials);
    expect(lo).toBeLessThanOrEqual(4200);
    expect(hi).toBeGreaterThan(4200);
    expect((hi! - lo) / lo).toBeLessThanOrEqual(0.1);
    expect(lo).toBeGreaterThan(4200 * 0.9);
  });

  it('comes down from a start the pipeline cannot carry', () => {
    const trials = search(300);
    expect(trials[0]).toEqual({ rate: 1000, sustained: false });
    expect(bounds(trials).lo).toBeGreaterThan(300 * 0.9);
  });

  it('stops at the floor when nothing is sustained, and after maxTrials', () => {
    const none = search(0);
    expect(none.every((t) => !t.sustained && t.rate >= options.floor)).toBe(true);
    expect(bounds(none).lo).toBe(0);
    expect(search(1e9, { ...options, maxTrials: 3 })).toHaveLength(3);
  });

  it('does not lower its bound for a step that failed below a sustained one', () => {
    // The 2nd trial (1,500/s) fails by chance; 1,000 was sustained, so the search goes on between them and above.
    const trials = search(4200, options, new Set([1]));
    expect(trials[1]).toEqual({ rate: 1500, sustained: false });
    expect(bounds(trials).lo).toBeGreaterThan(1000);
  });
});

describe('the repeats at the maximum', () => {
  const o: RepeatOptions = { repeats: 3, stepDown: 0.05, maxStepDowns: 2 };
  /** Runs the repeats from `found` against a pipeline whose i-th step is sustained when `holds(rate, i)`. */
  function repeat(found: number, holds: (rate: number, i: number) => boolean): Trial[] {
    const done: Trial[] = [];
    for (let rate = nextRepeatRate(found, done, o); rate !== undefined; rate = nextRepeatRate(found, done, o))
      done.push({ rate, sustained: holds(rate, done.length) });
    return done;
  }

  it('repeat the maximum the search found as often as asked when every one holds', () => {
    expect(repeat(10_000, () => true)).toEqual([10_000, 10_000, 10_000].map((rate) => ({ rate, sustained: true })));
  });

  it('start over 5 % lower after a repeat that falls behind, and end with a rate that held every time', () => {
    // Carries 9,600/s every time: 10,000 falls behind at once, 9,500 holds three times.
    const done = repeat(10_000, (rate) => rate <= 9600);
    expect(done).toEqual([{ rate: 10_000, sustained: false }, ...[9500, 9500, 9500].map((rate) => ({ rate, sustained: true }))]);
  });

  it('count the repeats anew at the lower rate, even when the failure came after sustained ones', () => {
    // The 2nd repeat at 10,000 falls behind (a noisy minute); the repeats start over at 9,500.
    const done = repeat(10_000, (_, i) => i !== 1);
    expect(done.map((t) => t.rate)).toEqual([10_000, 10_000, 9500, 9500, 9500]);
  });

  it('give up after two steps down (the headline then falls back to the best sustained step)', () => {
    const done = repeat(10_000, () => false);
    expect(done).toEqual([10_000, 9500, 9000].map((rate) => ({ rate, sustained: false })));
  });
});
