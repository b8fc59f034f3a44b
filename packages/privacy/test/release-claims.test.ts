import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { LedgerEntry } from '../src/ledger.ts';
import { claimHolds, createClaimLog, noiseKeyFingerprint, type ReleaseClaim } from '../src/release-claims.ts';

const MIN = 60_000;
const A = noiseKeyFingerprint(Buffer.alloc(32, 1));
const B = noiseKeyFingerprint(Buffer.alloc(32, 2));
const claim = (fingerprint: string, releasedUpTo: Record<string, number>, ledger: LedgerEntry[] = []): ReleaseClaim => ({
  fingerprint,
  at: 0,
  releasedUpTo,
  ledger,
});
const windows = (series: string, ...ends: number[]) => ends.map((windowEnd) => ({ series, windowEnd }));
const entry = (spent: number, lastWindowStart: number): LedgerEntry => ({
  stream: 'pedestrians',
  day: '2026-12-03',
  spent,
  budget: 1440,
  releases: spent,
  refused: 0,
  lastWindowStart,
});

describe('noiseKeyFingerprint', () => {
  it('is stable for a key, differs between keys, and contains no part of the key', () => {
    const key = randomBytes(32);
    expect(noiseKeyFingerprint(key)).toBe(noiseKeyFingerprint(Buffer.from(key)));
    expect(noiseKeyFingerprint(key)).toMatch(/^[0-9a-f]{32}$/);
    expect(A).not.toBe(B);
    const hex = key.toString('hex');
    for (let i = 0; i + 8 <= hex.length; i += 8) expect(noiseKeyFingerprint(key)).not.toContain(hex.slice(i, i + 8));
  });

  it('changes with the policy: the same key under another ε draws other figures', () => {
    const key = randomBytes(32);
    const policy = { kinds: { lamppost: { k: 5, epsilonPerRelease: 1 } } };
    expect(noiseKeyFingerprint(key, policy)).toBe(noiseKeyFingerprint(key, structuredClone(policy)));
    expect(noiseKeyFingerprint(key, policy)).not.toBe(noiseKeyFingerprint(key, { kinds: { lamppost: { k: 5, epsilonPerRelease: 100 } } }));
    expect(noiseKeyFingerprint(key, policy)).not.toBe(noiseKeyFingerprint(key));
  });
});

describe('the claim log', () => {
  it('gives a series to the first claim: a later claim of the same windows under another key loses them', () => {
    const log = createClaimLog();
    expect(claimHolds(log.apply(0n, claim(A, { s: 3 * MIN })), windows('s', MIN, 2 * MIN, 3 * MIN))).toBe(true);
    // B read the log before A's claim (a race) and released the same windows with its own noise.
    expect(claimHolds(log.apply(1n, claim(B, { s: 3 * MIN })), windows('s', MIN, 2 * MIN, 3 * MIN))).toBe(false);
    // Overlapping: B's release reaches past A's, but still contains A's windows.
    expect(claimHolds(log.apply(2n, claim(B, { s: 4 * MIN })), windows('s', 3 * MIN, 4 * MIN))).toBe(false);
    // Only new windows: B's.
    expect(claimHolds(log.apply(3n, claim(B, { s: 5 * MIN })), windows('s', 5 * MIN))).toBe(true);
    expect(log.series().s).toEqual({ upTo: 5 * MIN, fingerprint: B, since: 3 * MIN });
  });

  it('lets a releaser under the same key release its own run again (identical figures), never an earlier run under another key', () => {
    const log = createClaimLog();
    log.apply(0n, claim(A, { s: 2 * MIN }));
    log.apply(1n, claim(B, { s: 4 * MIN }));
    log.apply(2n, claim(B, { s: 6 * MIN }));
    // B after a crash between claim and send: may resend from the start of its run.
    expect(log.restorePoint(B)).toEqual({ s: 2 * MIN });
    expect(claimHolds(log.apply(3n, claim(B, { s: 6 * MIN })), windows('s', 3 * MIN, 4 * MIN, 5 * MIN, 6 * MIN))).toBe(true);
    // A (or any other key) finds everything released: the windows B claimed but never sent are lost, not re-noised.
    expect(log.restorePoint(A)).toEqual({ s: 6 * MIN });
    expect(log.restorePoint(noiseKeyFingerprint(randomBytes(32)))).toEqual({ s: 6 * MIN });
    expect(claimHolds(log.apply(4n, claim(A, { s: 2 * MIN })), windows('s', 2 * MIN))).toBe(false);
  });

  it('keeps series apart and refuses a claim that names no series it released', () => {
    const log = createClaimLog();
    log.apply(0n, claim(A, { s: 2 * MIN, t: 5 * MIN }));
    const verdict = log.apply(1n, claim(B, { s: 3 * MIN, t: 5 * MIN }));
    expect(claimHolds(verdict, windows('s', 3 * MIN))).toBe(true);
    expect(claimHolds(verdict, windows('t', 5 * MIN))).toBe(false);
    expect(claimHolds(verdict, windows('u', 5 * MIN))).toBe(false);
    expect(log.restorePoint(A)).toEqual({ s: 3 * MIN, t: 0 });
  });

  it('every reader of the same claims in the same order reaches the same verdicts, whatever it read before', () => {
    const claims = [claim(A, { s: MIN }), claim(B, { s: MIN }), claim(B, { s: 2 * MIN }), claim(A, { s: 3 * MIN }), claim(A, { s: 2 * MIN })];
    const one = createClaimLog();
    const verdicts = claims.map((c, i) => one.apply(BigInt(i), c));
    const other = createClaimLog();
    claims.forEach((c, i) => other.apply(BigInt(i), c));
    expect(claims.map((_, i) => other.verdict(BigInt(i)))).toEqual(verdicts);
    expect(verdicts.map((v) => v.s)).toEqual([0, MIN, MIN, 2 * MIN, 2 * MIN]);
  });

  it('keeps the ε ledger entry that went furthest and applies claims only in offset order', () => {
    const log = createClaimLog();
    log.apply(5n, claim(A, { s: MIN }, [entry(3, 2 * MIN)]));
    log.apply(6n, claim(B, { s: MIN }, [entry(2, MIN)]));
    log.apply(7n, claim(B, { s: MIN }, [entry(4, 2 * MIN)]));
    expect(log.entries()).toEqual([entry(4, 2 * MIN)]);
    expect(log.position()).toBe(8n);
    expect(() => log.apply(7n, claim(A, {}))).toThrow(/offset order/);
  });
});
