import { createFleet, DEFAULT_FLEET_PATH, loadFleet, type Device } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.ts';
import { coverageOfSpace, createKeyringLimiter, createTokenBucket, identifierCap, keyringBudgets } from '../src/keyring-budget.ts';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../src/policy.ts';

const policy = loadPolicy(DEFAULT_POLICY_PATH);
const fleet = loadFleet(DEFAULT_FLEET_PATH);

describe('the keyring budgets', () => {
  it('derives each kind from the fleet, the reading interval, the identifiers per reading and the headroom', () => {
    const budgets = keyringBudgets({ policy, fleet, readingIntervalMs: 5_000, identifiersPerReading: { lamppost: 100, 'traffic-light': 40 }, headroom: 1.5 });
    const lights = fleet.ofKind('traffic-light').length;
    expect(budgets['traffic-light']).toEqual({
      kind: 'traffic-light',
      devices: lights,
      identifiersPerReading: 40,
      messagesPerSecond: (lights * 40 * 1.5) / 5,
      burst: lights * 40 * 1.5,
      batchCap: 500,
    });
    expect(budgets.lamppost.messagesPerSecond).toBe((fleet.ofKind('lamppost').length * 100 * 1.5) / 5);
    // Sewers carry no identifier: their key is of no use to anyone, so nobody gets any of it.
    expect(budgets.sewer).toMatchObject({ messagesPerSecond: 0, burst: 0, batchCap: 0 });
  });

  it('takes the batch cap from the reading schemas and caps the per-reading figure by it', () => {
    expect(identifierCap(policy, 'traffic-light')).toBe(500);
    expect(identifierCap(policy, 'lamppost')).toBe(500);
    expect(identifierCap(policy, 'sewer')).toBe(0);
    const budgets = keyringBudgets({ policy, fleet, readingIntervalMs: 5_000, identifiersPerReading: { 'traffic-light': 10_000 }, headroom: 1 });
    expect(budgets['traffic-light'].identifiersPerReading).toBe(500);
  });

  it('grows with the fleet and shrinks with a longer reading interval', () => {
    const devices: Device[] = [{ id: 'TL-0001', kind: 'traffic-light', district: 'x', lat: 0, lon: 0 }];
    const one = keyringBudgets({ policy, fleet: createFleet(devices), readingIntervalMs: 10_000, identifiersPerReading: { 'traffic-light': 40 }, headroom: 2 });
    expect(one['traffic-light'].messagesPerSecond).toBe(8);
    // Never less than one full reading at once.
    expect(one['traffic-light'].burst).toBe(500);
    expect(() => keyringBudgets({ policy, fleet, readingIntervalMs: 5_000, headroom: 0.5 })).toThrow(/headroom/);
  });
});

describe('the token bucket', () => {
  it('starts full, refills at its rate up to its capacity, and says how long to wait', () => {
    const clock = new ManualClock(0);
    const bucket = createTokenBucket({ ratePerSecond: 100, capacity: 200, clock });
    expect(bucket.take(200)).toEqual({ ok: true });
    expect(bucket.take(1)).toEqual({ ok: false, retryAfterMs: 10 });
    clock.advance(500);
    expect(bucket.level()).toBe(50);
    expect(bucket.take(60)).toEqual({ ok: false, retryAfterMs: 100 });
    // A refusal takes nothing.
    expect(bucket.take(50)).toEqual({ ok: true });
    clock.advance(60_000);
    expect(bucket.level()).toBe(200);
    expect(bucket.take(201).ok).toBe(false);
  });

  it('gives nothing for a clock that steps back', () => {
    const clock = new ManualClock(10_000);
    const bucket = createTokenBucket({ ratePerSecond: 10, capacity: 10, clock });
    bucket.take(10);
    clock.set(0);
    expect(bucket.level()).toBe(0);
    clock.set(10_500);
    expect(bucket.level()).toBe(5);
  });
});

describe('the keyring limiter', () => {
  const budgets = keyringBudgets({ policy, fleet, readingIntervalMs: 5_000, identifiersPerReading: { lamppost: 100, 'traffic-light': 40 }, headroom: 1.5 });

  it('keeps one bucket per gateway and kind, and refuses batches above one reading', () => {
    const clock = new ManualClock(0);
    const limiter = createKeyringLimiter(budgets, clock);
    const { burst, messagesPerSecond } = budgets['traffic-light'];
    expect(limiter.charge('gateway', 'traffic-light', 501)).toEqual({ ok: false, reason: 'batch_too_large', batchCap: 500 });
    let granted = 0;
    while (limiter.charge('gateway', 'traffic-light', 500).ok) granted += 500;
    expect(granted).toBe(Math.floor(burst / 500) * 500);
    expect(limiter.charge('gateway', 'traffic-light', 500)).toMatchObject({ ok: false, reason: 'rate_limited' });
    // Another gateway, or another kind, has its own budget.
    expect(limiter.charge('gateway-2', 'traffic-light', 500).ok).toBe(true);
    expect(limiter.charge('gateway', 'lamppost', 500).ok).toBe(true);
    expect(limiter.charge('gateway', 'sewer', 1)).toMatchObject({ ok: false, reason: 'batch_too_large' });
    // Over a minute, the gateway gets the burst's remainder plus the rate, and no more.
    for (let s = 0; s < 60; s++) {
      clock.advance(1000);
      while (limiter.charge('gateway', 'traffic-light', 1).ok) granted++;
    }
    expect(granted).toBeLessThanOrEqual(burst + 60 * messagesPerSecond);
    expect(granted).toBeGreaterThanOrEqual(burst - 500 + 60 * messagesPerSecond - 1);
  });

  it('bounds what a stolen gateway token can invert of the simulated plate space per epoch', () => {
    const space = 23 * 23 * 9999;
    const { messagesPerSecond, burst } = budgets['traffic-light'];
    const coverage = coverageOfSpace({ messagesPerSecond, burst, epochMs: policy.kinds['traffic-light'].epoch, graceMs: 60_000, space });
    expect(coverage).toBeLessThan(0.1);
    expect(coverageOfSpace({ messagesPerSecond: 1e9, epochMs: 1_000, graceMs: 0, space })).toBe(1);
  });
});
