// The privacy-budget ledger: how much ε each person-derived stream has spent today (UTC).
// Every release of a stream's window costs the policy's ε per release; once the day's budget
// cannot pay for the next release, the stream releases nothing more until the next day.
// Charging is idempotent per window: releases run in window order, and a window at or before
// the last one charged is a replay of an identical release (noise is deterministic, see
// noise.ts), which reveals nothing new and costs nothing.
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

export interface BudgetLedger {
  /** Pays for one release of `stream`'s window starting at `windowStart`. */
  charge(stream: string, windowStart: number, epsilon: number, budgetPerDay: number): ChargeOutcome;
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

export function createBudgetLedger(): BudgetLedger {
  const byKey = new Map<string, LedgerEntry>();
  const key = (stream: string, day: string) => `${stream}|${day}`;

  return {
    charge(stream, windowStart, epsilon, budgetPerDay) {
      const day = utcDay(windowStart);
      let entry = byKey.get(key(stream, day));
      if (!entry) byKey.set(key(stream, day), (entry = { stream, day, spent: 0, budget: budgetPerDay, releases: 0, refused: 0, lastWindowStart: -1 }));
      entry.budget = budgetPerDay;
      if (windowStart <= entry.lastWindowStart) {
        return entry.exhaustedFrom !== undefined && windowStart >= entry.exhaustedFrom ? 'exhausted' : 'replay';
      }
      entry.lastWindowStart = windowStart;
      if (entry.exhaustedFrom !== undefined || entry.spent + epsilon > budgetPerDay + EPSILON_TOLERANCE) {
        entry.exhaustedFrom ??= windowStart;
        entry.refused++;
        return 'exhausted';
      }
      entry.spent += epsilon;
      entry.releases++;
      return 'granted';
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
