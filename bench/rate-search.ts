// The full pipeline's maximum sustainable rate, searched for rather than guessed as fractions
// of the slowest stage: grow the rate while steps are sustained, then halve the interval between
// the best sustained rate and the lowest one above it that was not, until they are within
// `precision` of each other. A step that fails below a sustained rate (a noisy moment on a
// shared machine) does not lower the bound: the repeats at the maximum say how steady it is.

export interface Trial {
  rate: number;
  sustained: boolean;
}

export interface SearchOptions {
  /** The first rate tried. */
  start: number;
  /** Factor by which the rate grows while every step is sustained (and shrinks while none is). */
  growth: number;
  /** The search ends when (lowest failed − best sustained) ÷ best sustained is at most this. */
  precision: number;
  /** At most this many trials. */
  maxTrials: number;
  /** No rate below this is tried: a pipeline that carries less is reported as carrying nothing. */
  floor: number;
}

/** The best sustained rate and the lowest failed one above it (undefined: none yet). */
export function bounds(trials: readonly Trial[]): { lo: number; hi: number | undefined } {
  const lo = Math.max(0, ...trials.filter((t) => t.sustained).map((t) => t.rate));
  const above = trials.filter((t) => !t.sustained && t.rate > lo).map((t) => t.rate);
  return { lo, hi: above.length > 0 ? Math.min(...above) : undefined };
}

/** The next rate to try after `trials`, or undefined when the search is done. */
export function nextRate(trials: readonly Trial[], o: SearchOptions): number | undefined {
  if (trials.length === 0) return Math.max(o.floor, Math.round(o.start));
  if (trials.length >= o.maxTrials) return undefined;
  const { lo, hi } = bounds(trials);
  if (hi === undefined) return Math.round(lo * o.growth);
  if (lo === 0) {
    const down = Math.round(hi / o.growth);
    return down < o.floor ? undefined : down;
  }
  if ((hi - lo) / lo <= o.precision) return undefined;
  return Math.round((lo + hi) / 2);
}

export interface RepeatOptions {
  /** Sustained repeats wanted at one rate. */
  repeats: number;
  /** What a repeat that is not sustained takes off the rate, as a share of the search's maximum. */
  stepDown: number;
  /** At most this many steps down; a repeat failing after them ends the repeats. */
  maxStepDowns: number;
}

/**
 * The repeats at the maximum the search found: the rate of the next one after `done`, or undefined
 * when they are over. The search keeps its best sustained rate even if that was one lucky minute;
 * the maximum reported is a rate the pipeline carries every time. So a repeat that is not sustained
 * lowers the rate by `stepDown` of the search's maximum and the repeats start over there, at most
 * `maxStepDowns` times; they are over once `repeats` in a row were sustained at one rate.
 */
export function nextRepeatRate(found: number, done: readonly Trial[], o: RepeatOptions): number | undefined {
  const last = done.at(-1);
  if (!last) return found;
  const failures = done.filter((t) => !t.sustained).length;
  if (!last.sustained) return failures > o.maxStepDowns ? undefined : Math.round(found * (1 - o.stepDown * failures));
  let streak = 0;
  for (let i = done.length - 1; i >= 0 && done[i]!.sustained && done[i]!.rate === last.rate; i--) streak++;
  return streak >= o.repeats ? undefined : last.rate;
}
