// How stages 5 and 6 time a service replaying a pre-filled topic: its count (from /metrics)
// sampled every 100 ms until the work is done, and the sustained rate read between 10 % and 90 %
// of the total, so the consumer group's join and the last stragglers do not count.
import { sleep } from './context.ts';

export interface CountSample {
  /** Microseconds since the epoch. */
  us: number;
  count: number;
}

export const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;

export interface FollowOptions {
  metrics: () => Promise<string>;
  count: (metrics: string) => number;
  /** Done with this count and these metrics (at least: the count reached the total). */
  done: (count: number, metrics: string) => boolean;
  /** `1234 of 5000 readings consumed`: for the progress lines and the timeout's error. */
  describe: (count: number) => string;
  progress: (line: string) => void;
}

/** The samples until done, and the last metrics read; throws after 10 minutes. */
export async function followCount({ metrics, count, done, describe, progress }: FollowOptions): Promise<{ samples: CountSample[]; metrics: string }> {
  const samples: CountSample[] = [];
  let lastLog = Date.now();
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const text = await metrics();
    const n = count(text);
    samples.push({ us: nowUs(), count: n });
    if (done(n, text)) return { samples, metrics: text };
    if (Date.now() > deadline) throw new Error(`not done in 10 minutes: ${describe(n)}`);
    if (Date.now() - lastLog > 5000) {
      lastLog = Date.now();
      progress(describe(n));
    }
    await sleep(100);
  }
}

/** Per second, between the first samples at 10 % and at 90 % of `total`. */
export function sustainedRate(samples: readonly CountSample[], total: number): number {
  const at = (f: number) => samples.find((s) => s.count >= f * total)!;
  const lo = at(0.1);
  const hi = at(0.9);
  return ((hi.count - lo.count) * 1e6) / Math.max(1, hi.us - lo.us);
}
