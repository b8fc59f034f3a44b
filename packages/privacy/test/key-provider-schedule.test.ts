import { describe, expect, it } from 'vitest';
import { createInMemoryKeyProvider } from '../src/key-provider.ts';
import { ManualClock } from '../src/clock.ts';
import { DEFAULT_POLICY_PATH, loadPolicy } from '../src/policy.ts';
import { destroyedKeyData } from '../src/pseudonym-keys.ts';

const EPOCH = 15 * 60_000;
const GRACE = 60_000;
const START = Date.UTC(2026, 0, 1, 3, 0, 0);

/** Runs a provider for `epochs` epochs with a rotation every second, and a sighting at `seenAt` (ms after START) if given. */
async function run(epochs: number, seenAt?: number) {
  const clock = new ManualClock(START);
  const told: Array<[number, number]> = [];
  const provider = createInMemoryKeyProvider({ epochMs: EPOCH, graceMs: GRACE, clock, onDestroy: (epoch) => told.push([epoch, clock.now() - START]) });
  for (let t = 0; t < epochs * EPOCH + GRACE + 2000; t += 1000) {
    clock.set(START + t);
    if (seenAt !== undefined && t <= seenAt && seenAt < t + 1000) {
      clock.set(START + seenAt);
      await provider.hmac(Math.floor(clock.now() / EPOCH), ['plate:KX9137']);
      clock.set(START + t);
    }
    provider.rotate();
  }
  return told;
}

describe('the epoch keys, as the audit log and the register see them (P9)', () => {
  it('destroys one key per epoch whether or not anyone was seen, and tells each at a rotation tick', async () => {
    const quiet = await run(3);
    expect(quiet.map(([epoch]) => epoch)).toEqual([0, 1, 2].map((i) => START / EPOCH + i));
    // A car in the half second after the first epoch's grace: its key is zeroed then, but told at the same tick as without it.
    const car = await run(3, EPOCH + GRACE + 400);
    expect(car).toEqual(quiet);
  });
});

describe('the key.destroyed audit data', () => {
  it('names the kind and epoch of a destroyed key and the span of time the epoch covered, and nothing else', () => {
    const policy = loadPolicy(DEFAULT_POLICY_PATH);
    const epoch = START / policy.kinds.lamppost.epoch;
    expect(destroyedKeyData(policy, 'lamppost', epoch)).toEqual({
      kind: 'lamppost',
      epoch,
      epochStart: new Date(START).toISOString(),
      epochEnd: new Date(START + policy.kinds.lamppost.epoch).toISOString(),
    });
  });
});
