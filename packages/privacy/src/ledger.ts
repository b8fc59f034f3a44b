// The privacy-budget ledger: how much ε each person-derived stream has spent today (UTC).
// Every release of a stream's window costs the policy's ε per release; once the day's budget
// cannot pay for the next release, the stream releases nothing more until the next day.
// Charging is idempotent per window: releases run in window order, and a window at or before
// the last one charged is a replay of an identical release (noise is deterministic, see
// noise.ts), which reveals nothing new and costs nothing.
// A stream's charged windows are contiguous within a day: a window skipped between two charges
// (one the releaser discarded because its partials were gone) is charged as if released. It
// costs a little budget and buys exactness: the ε spent through any window is then the day's
// total less ε per later window, so a replay states the same `spentThrough` as the original
// release did, also after a restart that restored the ledger from further ahead.
// The releaser persists the entries twice: in its committed offset metadata and on the release
// ledger topic (release-claims.ts), which any releaser restores from whatever its consumer group,
// so neither a new group nor a new noise key starts the day's spending from zero.
export interface LedgerEntry {
  stream: string;
  /** UTC day, YYYY-MM-DD, of the windows charged. */
  day: string;
  spent: number;
  budget: number;
  releases: number;
  /** Releases refused because the budget was spent. */
  refused: number;
  /** Start of the last window charged (ms). */
  lastWindowStart: number;
  /** Start of the first window refused (ms); every later window that day is refused too. */
  exhaustedFrom?: number;
}

export type ChargeOutcome = 'granted' | 'replay' | 'exhausted';

export interface Charge {
  outcome: ChargeOutcome;
  /** ε the stream spent that day through this window: what the window's release says it cost so far. */
  spentThrough: number;
}

export interface BudgetLedger {
  /** Pays for one release of `stream`'s window [start, end). */
  charge(stream: string, window: { start: number; end: number }, epsilon: number, budgetPerDay: number): Charge;
  /** Today's entries (or another day's), for metrics, the register and persistence. */
  entries(day?: string): LedgerEntry[];
  /** Restores entries saved by a previous run (the newest copy of a stream-day wins). */
  restore(entries: readonly LedgerEntry[]): void;
}

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Float sums of ε drift (0.1 + 0.2 > 0.3): compare with a tolerance far below any real ε. */
const EPSILON_TOLERANCE = 1e-9;

/** Rounded far below any real ε, so a sum and a difference of the same charges print the same. */
function tidy(spent: number): number {
  return Math.round(spent * 1e9) / 1e9;
}

export function createBudgetLedger(): BudgetLedger {
  const byKey = new Map<string, LedgerEntry>();
  const key = (stream: string, day: string) => `${stream}|${day}`;

  return {
    charge(stream, { start, end }, epsilon, budgetPerDay) {
      const day = utcDay(start);
      const windowMs = end - start;
      if (!(windowMs > 0)) throw new Error(`a window must end after it starts (${stream}: ${start}–${end})`);
      let entry = byKey.get(key(stream, day));
      if (!entry) byKey.set(key(stream, day), (entry = { stream, day, spent: 0, budget: budgetPerDay, releases: 0, refused: 0, lastWindowStart: -1 }));
      entry.budget = budgetPerDay;
      if (start <= entry.lastWindowStart) {
        if (entry.exhaustedFrom !== undefined && start >= entry.exhaustedFrom) return { outcome: 'exhausted', spentThrough: tidy(entry.spent) };
        // Every window after this one up to the last granted was charged ε (contiguity, above).
        const lastGranted = entry.exhaustedFrom !== undefined ? entry.exhaustedFrom - windowMs : entry.lastWindowStart;
        return { outcome: 'replay', spentThrough: tidy(Math.max(0, entry.spent - (epsilon * (lastGranted - start)) / windowMs)) };
      }
      // Windows skipped since the last charge, then this one (only this one if the grid changed with the policy).
      const aligned = entry.lastWindowStart >= 0 && (start - entry.lastWindowStart) % windowMs === 0;
      const from = aligned ? entry.lastWindowStart + windowMs : start;
      let outcome: ChargeOutcome = 'granted';
      for (let w = from; w <= start; w += windowMs) {
        entry.lastWindowStart = w;
        if (entry.exhaustedFrom !== undefined || entry.spent + epsilon > budgetPerDay + EPSILON_TOLERANCE) {
          entry.exhaustedFrom ??= w;
          entry.refused++;
          outcome = 'exhausted';
        } else {
          entry.spent += epsilon;
          entry.releases++;
        }
      }
      entry.lastWindowStart = start;
      return { outcome, spentThrough: tidy(entry.spent) };
    },
    entries(day) {
      return [...byKey.values()].filter((e) => day === undefined || e.day === day).map((e) => ({ ...e }));
    },
    restore(entries) {
      for (const e of entries) {
        const current = byKey.get(key(e.stream, e.day));
        if (!current || e.lastWindowStart > current.lastWindowStart) byKey.set(key(e.stream, e.day), { ...e });
      }
    },
  };
}
