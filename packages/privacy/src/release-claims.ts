// The release ledger: which windows of which series have been released, under which noise key,
// and the ε spent — kept in a log (the Kafka topic lethe.ledger.v1) that every releaser reads,
// whatever its consumer group or noise key, so that nobody can reset it by starting afresh.
//
// Why a claim log. Noise is deterministic per figure under one key (noise.ts), so releasing a
// window twice under the same key publishes the same figures again; under another key it
// publishes fresh noise, and averaging such re-releases recovers the true count. So a releaser
// writes a claim — "series s released up to window end t, under key fingerprint f" — to the
// log BEFORE it sends the figures, and sends them only if its claim was the first to cover
// those windows, or the first claim was made under the same key. The log's single partition
// orders all claims; every reader folds them in that order and reaches the same verdict, also
// when two releasers under different keys race (each window goes to whichever claimed first).
//
// Crash between claim and send: the windows are claimed but nothing was published. A releaser
// under the same key re-releases them with identical figures (harmless: a replay). One under
// another key may not: those windows are lost, never re-noised.
//
// Compaction would be wrong here: it keeps the LAST record of a key, but the verdict depends on
// the FIRST claim of a window. The log keeps every claim for its retention (topic-configs.ts),
// which outlasts both the partials a window could be re-released from (the raw-data TTL) and
// the ε ledger's day and yesterday.
//
// Pure: no I/O. services/processor/src/ledger-topic.ts reads and writes the topic.
import { createHmac } from 'node:crypto';
import type { LedgerEntry } from './ledger.ts';

/** One record of the ledger topic (its value, without the schema version). */
export interface ReleaseClaim {
  /** Fingerprint of the noise key the figures were drawn under (noiseKeyFingerprint). */
  fingerprint: string;
  /** When the claim was written (ms). */
  at: number;
  /** Per series, the end of the last window this release covers. */
  releasedUpTo: Readonly<Record<string, number>>;
  /** The writer's ε ledger after this release (today and yesterday, UTC). */
  ledger: readonly LedgerEntry[];
}

/** Per series, the outcome of folding the claims so far. */
export interface SeriesClaims {
  /** End of the last window claimed by anyone. */
  upTo: number;
  /** Key fingerprint of the claims that took the series from `since` to `upTo`. */
  fingerprint: string;
  /** Windows ending after this and up to `upTo` were claimed under `fingerprint`; earlier ones under other keys (or none). */
  since: number;
}

/** Of one claim, per series: windows ending after this time are the claimant's to send. */
export type ClaimVerdict = Record<string, number>;

export interface ClaimLog {
  /** Folds the claim at `offset` (offsets must increase); returns its verdict. */
  apply(offset: bigint, claim: ReleaseClaim): ClaimVerdict;
  /** The verdict of a claim already applied (kept for the most recent claims only). */
  verdict(offset: bigint): ClaimVerdict | undefined;
  /** Offset after the last claim applied (0 before any). */
  position(): bigint;
  /**
   * Per series, up to when a releaser under `fingerprint` must treat windows as released:
   * everything claimed, except the windows of the latest run of claims under its own key,
   * which it may release again because it would release the same figures.
   */
  restorePoint(fingerprint: string): Record<string, number>;
  /** Per stream and day, the ledger entry that went furthest (the latest window charged). */
  entries(): LedgerEntry[];
  series(): Record<string, SeriesClaims>;
}

/** How many recent verdicts are kept for the claimant to look up. */
const VERDICTS_KEPT = 1024;

/**
 * A fingerprint of what decides a release's figures — the noise key and the policy (k, ε per
 * release, the sensitivities) — that reveals nothing about the key: an HMAC under the key of a
 * fixed label and the policy (a pseudorandom function of the key; not invertible, and not one of
 * the noise streams, whose ids are figure ids). The policy is in it because the same uniforms
 * under another ε give another value: a re-run with the same key and, say, a much larger ε
 * would publish a window again with far less noise. Same key and same policy: same figures.
 */
export function noiseKeyFingerprint(key: Buffer, policy?: unknown): string {
  return createHmac('sha256', key)
    .update('lethe ledger: noise key fingerprint v1\u0000')
    .update(policy === undefined ? '' : JSON.stringify(policy))
    .digest('hex')
    .slice(0, 32);
}

/** Is every released window mine? `windows` are (series, window end) pairs of one claim. */
export function claimHolds(verdict: ClaimVerdict, windows: ReadonlyArray<{ series: string; windowEnd: number }>): boolean {
  return windows.every((w) => w.windowEnd > (verdict[w.series] ?? Number.POSITIVE_INFINITY));
}

export function createClaimLog(): ClaimLog {
  const series = new Map<string, SeriesClaims>();
  const ledger = new Map<string, LedgerEntry>();
  const verdicts = new Map<bigint, ClaimVerdict>();
  let next = 0n;

  return {
    apply(offset, claim) {
      if (offset < next) throw new Error(`ledger claims must be applied in offset order (got ${offset} after ${next - 1n})`);
      next = offset + 1n;
      const verdict: ClaimVerdict = {};
      for (const [id, upTo] of Object.entries(claim.releasedUpTo)) {
        if (typeof upTo !== 'number') continue;
        const before = series.get(id) ?? { upTo: 0, fingerprint: '', since: 0 };
        const same = before.fingerprint === claim.fingerprint;
        // The claimant's own run may be released again (identical figures); anything claimed before under another key may not.
        verdict[id] = same ? before.since : before.upTo;
        if (upTo > before.upTo) series.set(id, same ? { ...before, upTo } : { upTo, fingerprint: claim.fingerprint, since: before.upTo });
      }
      for (const e of claim.ledger) {
        const key = `${e.stream}|${e.day}`;
        const current = ledger.get(key);
        if (!current || e.lastWindowStart > current.lastWindowStart || (e.lastWindowStart === current.lastWindowStart && e.spent > current.spent))
          ledger.set(key, { ...e });
      }
      verdicts.set(offset, verdict);
      if (verdicts.size > VERDICTS_KEPT) verdicts.delete(verdicts.keys().next().value!);
      return verdict;
    },
    verdict: (offset) => verdicts.get(offset),
    position: () => next,
    restorePoint(fingerprint) {
      return Object.fromEntries([...series].map(([id, s]) => [id, s.fingerprint === fingerprint ? s.since : s.upTo]));
    },
    entries: () => [...ledger.values()].map((e) => ({ ...e })),
    series: () => Object.fromEntries([...series].map(([id, s]) => [id, { ...s }])),
  };
}
